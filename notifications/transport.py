"""Sending one message: e-mail through Django's backend, a signed webhook over HTTP.

Knows nothing of the outbox's state: it returns a Result, and notifications.delivery records it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone, translation

from notifications.models import EndpointState, OutboxMessage, WebhookEndpoint
from notifications.signing import sign
from notifications.ssrf import UnsafeEndpoint, pinned_url, resolve_endpoint


@dataclass
class Result:
    """What one attempt came to."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    retry_after: float | None = None
    gone: bool = False  # 410: the receiver asks us to stop
    permanent: bool = False  # retrying cannot help (unsafe or invalid endpoint)
    skipped: bool = False  # nothing to send to any more (endpoint disabled or removed)
    endpoint_failing: bool = False  # the endpoint was marked failing when we sent


def send_email(message: OutboxMessage) -> Result:
    context = {"event": message.event_type, "data": message.payload.get("data", {})}
    with translation.override("ja"):
        subject = render_to_string("notifications/email/subject.txt", context).strip()
        body = render_to_string("notifications/email/body.txt", context)
    EmailMessage(
        subject=" ".join(subject.split()),  # a header: one line
        body=body,
        to=message.recipients,
        headers={"X-Tsunagu-Message-Id": str(message.pk)},
    ).send()
    return Result(ok=True)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def webhook_body(message: OutboxMessage) -> bytes:
    """The JSON body: type, id and data (ids and links only), as compact UTF-8."""
    return json.dumps(
        {
            "type": message.event_type,
            "id": str(message.pk),
            "created_at": message.created_at.isoformat(),
            "data": message.payload.get("data", {}),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The current secret, and the previous one while its rotation overlap lasts."""
    secrets_ = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > timezone.now()
    ):
        secrets_.append(endpoint.previous_secret)
    return secrets_


def webhook_request(message: OutboxMessage, endpoint: WebhookEndpoint) -> tuple[dict, bytes]:
    """Headers and body of one attempt: same webhook-id every time, fresh timestamp."""
    body = webhook_body(message)
    timestamp = int(time.time())
    signatures = [sign(key, str(message.pk), timestamp, body) for key in signing_secrets(endpoint)]
    headers = {
        "content-type": "application/json",
        "user-agent": "Tsunagu-Webhooks/1.0",
        "webhook-id": str(message.pk),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
    return headers, body


_client: tuple[int, httpx.Client] | None = None
_client_lock = threading.Lock()


def _http_client() -> httpx.Client:
    """One client per process (making one loads the CA bundle: ~20 ms, more than a local
    delivery). No keep-alive: a connection opened to a pinned address with one name's TLS
    identity must not carry another name's webhook.

    Shared by the threads of a `--pool threads` worker: an httpx.Client may be used from
    several threads at once; the lock only makes sure they create one, not one each."""
    global _client
    client = _client
    if client is None or client[0] != os.getpid():  # not inherited across a fork
        with _client_lock:
            client = _client
            if client is None or client[0] != os.getpid():
                client = (
                    os.getpid(),
                    httpx.Client(
                        follow_redirects=False,
                        trust_env=False,
                        limits=httpx.Limits(max_keepalive_connections=0),
                    ),
                )
                _client = client
    return client[1]


def post_webhook(url: str, *, headers: dict[str, str], body: bytes) -> Result:
    """POST to a checked endpoint, connecting to the checked address; never follows redirects.

    The response body is not read: a receiver cannot make us download anything.
    """
    try:
        address = resolve_endpoint(url)
    except UnsafeEndpoint as exc:
        return Result(ok=False, error=str(exc), permanent=True)
    parts = urlsplit(url)
    extensions = {}
    if address is not None:
        headers = {**headers, "host": parts.netloc.rsplit("@", 1)[-1]}
        if parts.scheme == "https":
            extensions["sni_hostname"] = parts.hostname
    try:
        with _http_client().stream(
            "POST",
            pinned_url(url, address),
            content=body,
            headers=headers,
            extensions=extensions,
            timeout=settings.TSUNAGU["WEBHOOK_TIMEOUT_SECONDS"],
        ) as response:
            status = response.status_code
            retry_after = response.headers.get("retry-after")
    except httpx.HTTPError as exc:
        return Result(ok=False, error=type(exc).__name__)
    if 200 <= status < 300:
        return Result(ok=True, status_code=status)
    return Result(
        ok=False,
        status_code=status,
        error=f"HTTP {status}",
        retry_after=_retry_after(retry_after),
        gone=status == 410,
    )


def send_webhook(message: OutboxMessage, endpoint: WebhookEndpoint | None) -> Result:
    """Sign and post one message to the agency's endpoint (read with the claim; None: the
    agency has none)."""
    if endpoint is None or endpoint.state == EndpointState.DISABLED:
        return Result(ok=False, error="endpoint disabled or removed", skipped=True)
    headers, body = webhook_request(message, endpoint)
    result = post_webhook(endpoint.url, headers=headers, body=body)
    result.endpoint_failing = endpoint.state == EndpointState.FAILING
    return result
