"""Delivering outbox messages: claim, send once, record the attempt, schedule the retry.

At-least-once with a stable id: a message is claimed with a conditional update (a lease), so two
tasks for the same row never send at once; if a worker dies mid-send, the lease runs out and the
sweeper sends it again under the same webhook-id, which receivers use to drop duplicates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import random
import secrets
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from agencies.models import EndpointState, Membership, Role, WebhookEndpoint
from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record
from relay.models import DeliveryAttempt, Handoff, OutboxMessage
from relay.models.outbox import Channel, DeliveryState

log = logging.getLogger(__name__)
SYSTEM = Actor.system("notifications")
SECRET_PREFIX = "whsec_"  # noqa: S105  (the Standard Webhooks prefix, not a secret)
SENT_EVENT = "handoff.sent"
# A test event (relay.services.webhooks) is tried once and says nothing about the endpoint.
TEST_EVENT = "webhook.test"


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: v1, base64 HMAC-SHA256 of `id.timestamp.body`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify_signature(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does: recompute, compare in constant time, reject stale timestamps.

    `headers` may use any case (HTTP header names are case-insensitive); the signature header
    may hold several space-separated signatures (during a secret rotation).
    """
    headers = {name.lower(): value for name, value in headers.items()}
    msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        return False
    expected = sign(secret, msg_id, int(stamp), body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in headers.get("webhook-signature", "").split()
    )


class UnsafeEndpoint(Exception):
    """The endpoint is not allowed (scheme, or an address inside our network)."""


def check_endpoint(url: str) -> None:
    """Refuse http outside the demo, and hosts resolving to loopback/private/link-local."""
    resolve_endpoint(url)


def resolve_endpoint(url: str) -> str | None:
    """Validate `url` and return the public address to connect to.

    The request is then sent to that address (with the name in Host and TLS SNI), so a DNS
    answer that changes between the check and the connection cannot point us inside our own
    network. None when private targets are allowed (the embedded demo): connect by name.
    """
    parts = urlsplit(url)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and settings.TSUNAGU["WEBHOOK_ALLOW_HTTP"]
    ):
        raise UnsafeEndpoint("only https endpoints are allowed")
    if not parts.hostname:
        raise UnsafeEndpoint("no host")
    if parts.username or parts.password:
        raise UnsafeEndpoint("credentials in the URL are not allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeEndpoint("invalid port") from exc
    if settings.TSUNAGU["WEBHOOK_ALLOW_PRIVATE"]:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeEndpoint("host does not resolve") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None)
        if not address.is_global or address.is_multicast or (mapped and not mapped.is_global):
            raise UnsafeEndpoint("host resolves to a non-public address")
    if not addresses:
        raise UnsafeEndpoint("host does not resolve")
    return str(addresses[0])


def pinned_url(url: str, address: str | None) -> str:
    """`url` with its host replaced by the checked address (None: unchanged)."""
    if address is None:
        return url
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def claim(message_id: str, *, now: datetime | None = None) -> OutboxMessage | None:
    """Take the row for this worker for one lease, if it is due and nobody holds it."""
    try:
        uuid.UUID(str(message_id))
    except ValueError:
        return None  # not one of ours: nothing to claim
    now = now or timezone.now()
    lease = timedelta(seconds=settings.TSUNAGU["DELIVERY_LEASE_SECONDS"])
    taken = (
        OutboxMessage.objects.filter(
            pk=message_id, state=DeliveryState.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + lease)
    )
    if not taken:
        return None
    return OutboxMessage.objects.select_related("agency", "handoff").get(pk=message_id)


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


def _send_email(message: OutboxMessage) -> Result:
    context = {"event": message.event_type, "data": message.payload.get("data", {})}
    with translation.override("ja"):
        subject = render_to_string("relay/email/subject.txt", context).strip()
        body = render_to_string("relay/email/body.txt", context)
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


def _http_client() -> httpx.Client:
    """One client per process (making one loads the CA bundle: ~20 ms, more than a local
    delivery). No keep-alive: a connection opened to a pinned address with one name's TLS
    identity must not carry another name's webhook."""
    global _client
    if _client is None or _client[0] != os.getpid():  # not inherited across a fork
        _client = (
            os.getpid(),
            httpx.Client(
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_keepalive_connections=0),
            ),
        )
    return _client[1]


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


def _send_webhook(message: OutboxMessage) -> Result:
    endpoint = WebhookEndpoint.objects.filter(agency=message.agency_id).first()
    if endpoint is None or endpoint.state == EndpointState.DISABLED:
        return Result(ok=False, error="endpoint disabled or removed", skipped=True)
    headers, body = webhook_request(message, endpoint)
    result = post_webhook(endpoint.url, headers=headers, body=body)
    result.endpoint_failing = endpoint.state == EndpointState.FAILING
    return result


def deliver(message_id: str) -> str:
    """Claim, send and record one message; returns what happened (for logs and tests)."""
    message = claim(message_id)
    if message is None:
        return "not-claimed"
    started = time.monotonic()
    try:
        result = (
            _send_email(message) if message.channel == Channel.EMAIL else _send_webhook(message)
        )
    except Exception as exc:  # an SMTP or template failure: retried like any other
        log.warning("delivery of outbox %s failed: %s", message.pk, type(exc).__name__)
        result = Result(ok=False, error=type(exc).__name__)
    latency_ms = int((time.monotonic() - started) * 1000)
    return record_result(message, result, latency_ms=latency_ms)


def backoff(attempts: int) -> timedelta | None:
    """Delay before the next attempt after `attempts` tries; None when the schedule is spent.

    RETRY_SCHEDULE[0] is the first attempt (immediate); RETRY_SCHEDULE[n] the wait after the
    n-th failure. Up to 10 % jitter is added, so receivers that come back are not stampeded.
    """
    schedule = settings.TSUNAGU["RETRY_SCHEDULE"]
    if attempts >= len(schedule):
        return None
    base = schedule[attempts]
    return timedelta(seconds=base + random.uniform(0, base * 0.1))  # noqa: S311 (jitter)


def _audit_common(message: OutboxMessage) -> dict:
    return {
        "actor": SYSTEM,
        "object_type": "outbox",
        "object_id": str(message.pk),
        "recipient_agency_id": message.agency_id,
        "sheet_id": message.handoff.sheet_id if message.handoff else None,
    }


@transaction.atomic
def record_result(message: OutboxMessage, result: Result, *, latency_ms: int) -> str:
    """Log the attempt and move the row on: delivered, retry at next_attempt_at, or failed."""
    # Lock the row (the claim's copy, with its agency and hop, serves for the rest) and
    # read what may have changed since the claim.
    message.state, message.attempts = (
        OutboxMessage.objects.select_for_update()
        .filter(pk=message.pk)
        .values_list("state", "attempts")
        .get()
    )
    now = timezone.now()
    DeliveryAttempt.objects.create(
        message=message,
        attempted_at=now,
        status_code=result.status_code,
        latency_ms=latency_ms,
        error=result.error[:300],
        succeeded=result.ok,
    )
    if message.state != DeliveryState.PENDING:
        # Our lease ran out and another worker finished it, or the endpoint was disabled
        # meanwhile: the attempt is logged, the outcome already decided.
        return "already-settled"
    message.attempts += 1
    message.locked_until = None
    if result.ok:
        message.state = DeliveryState.DELIVERED
        message.delivered_at = now
        message.last_error = ""
        message.save(
            update_fields=["state", "delivered_at", "locked_until", "attempts", "last_error"]
        )
        audit_record(
            action=AuditAction.NOTIFICATION_DELIVERED,
            **_audit_common(message),
            detail={
                "channel": message.channel,
                "event": message.event_type,
                "attempts": message.attempts,
            },
        )
        if result.endpoint_failing:
            _endpoint_recovered(message)
        return "delivered"
    message.last_error = result.error[:300]
    if result.skipped:
        message.state = DeliveryState.CANCELLED
        message.save(update_fields=["attempts", "last_error", "state", "locked_until"])
        _receiver_not_notified([message])
        return "skipped"
    retryable = not (result.gone or result.permanent or message.event_type == TEST_EVENT)
    delay = backoff(message.attempts) if retryable else None
    if delay is not None:
        if result.retry_after is not None:
            delay = max(delay, timedelta(seconds=min(result.retry_after, 86400)))
        message.next_attempt_at = now + delay
        message.save(update_fields=["attempts", "last_error", "next_attempt_at", "locked_until"])
        if delay.total_seconds() <= settings.TSUNAGU["SHORT_RETRY_SECONDS"]:
            ids, countdown = [str(message.pk)], delay.total_seconds()
            transaction.on_commit(lambda: _enqueue_later(ids, countdown))
        return "retry"
    message.state = DeliveryState.FAILED
    message.save(update_fields=["attempts", "last_error", "state", "locked_until"])
    audit_record(
        action=AuditAction.NOTIFICATION_FAILED,
        **_audit_common(message),
        detail={
            "channel": message.channel,
            "event": message.event_type,
            "attempts": message.attempts,
            "error": message.last_error,
        },
    )
    if message.event_type == TEST_EVENT:
        return "failed"  # a test event tells its sender; it says nothing about the endpoint
    _receiver_not_notified([message])
    if message.channel == Channel.WEBHOOK:
        _endpoint_gave_up(message, gone=result.gone)
    return "gone" if result.gone else "failed"


def _enqueue_later(ids: list[str], countdown: float) -> None:
    from relay.tasks import enqueue_deliveries

    enqueue_deliveries(ids, countdown=countdown)


def _receiver_not_notified(messages: list[OutboxMessage]) -> None:
    """A handoff whose arrival could not be announced: escalation goes over the receiver."""
    handoff_ids = [m.handoff_id for m in messages if m.handoff_id and m.event_type == SENT_EVENT]
    if handoff_ids:
        Handoff.objects.filter(pk__in=handoff_ids).update(receiver_notified=False)


def supervisor_emails(agency_id: int) -> list[str]:
    """E-mail addresses of the agency's supervisors (管理職)."""
    return sorted(
        email
        for email in Membership.objects.filter(
            agency_id=agency_id, role=Role.SUPERVISOR
        ).values_list("user__email", flat=True)
        if email
    )


def supervisor_emails_by_agency(agency_ids: Iterable[int]) -> dict[int, list[str]]:
    """supervisor_emails for many agencies in one query."""
    found: dict[int, set[str]] = {}
    for agency_id, email in Membership.objects.filter(
        agency_id__in=list(agency_ids), role=Role.SUPERVISOR
    ).values_list("agency_id", "user__email"):
        if email:
            found.setdefault(agency_id, set()).add(email)
    return {agency_id: sorted(emails) for agency_id, emails in found.items()}


def _endpoint_recovered(message: OutboxMessage) -> None:
    """A delivery got through: an endpoint marked failing is healthy again."""
    WebhookEndpoint.objects.filter(agency=message.agency_id, state=EndpointState.FAILING).update(
        state=EndpointState.ACTIVE, state_reason="", updated_at=timezone.now()
    )


def _endpoint_gave_up(message: OutboxMessage, *, gone: bool) -> None:
    """410: disable the endpoint. Retries exhausted: mark it failing. Supervisors are told
    once, when the state changes, not once per failed message."""
    from relay.notify import notify_agency

    endpoint = WebhookEndpoint.objects.select_for_update().filter(agency=message.agency_id).first()
    if endpoint is None:
        return
    if gone:
        if endpoint.state == EndpointState.DISABLED:
            return
        endpoint.state = EndpointState.DISABLED
    elif endpoint.state != EndpointState.ACTIVE:
        return
    else:
        endpoint.state = EndpointState.FAILING
    endpoint.state_reason = message.last_error[:200]
    endpoint.save(update_fields=["state", "state_reason", "updated_at"])
    if gone:
        # Nothing more goes to a receiver that said 410; what was waiting is not sent.
        waiting = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(agency=message.agency_id, channel=Channel.WEBHOOK, state=DeliveryState.PENDING)
            .exclude(pk=message.pk)
        )
        OutboxMessage.objects.filter(pk__in=[m.pk for m in waiting]).update(
            state=DeliveryState.CANCELLED, last_error="endpoint disabled (410)", locked_until=None
        )
        _receiver_not_notified(waiting)
        audit_record(
            action=AuditAction.WEBHOOK_DISABLED,
            actor=SYSTEM,
            object_type="agency",
            object_id=message.agency_id,
            recipient_agency_id=message.agency_id,
            detail={"outbox_id": str(message.pk), "cancelled": len(waiting)},
        )
    event = "webhook.disabled" if gone else "webhook.failing"
    agency = message.agency
    notify_agency(
        event,
        agency=agency,
        handoff=None,
        payload={
            "type": event,
            "data": {
                "agency": agency.slug,
                "outbox_id": str(message.pk),
                "url": f"{settings.SITE_URL}/",
            },
        },
        actor=SYSTEM,
        email_to=supervisor_emails(agency.pk)
        or ([agency.intake_email] if agency.intake_email else []),
        channels=[Channel.EMAIL],
    )


def due_message_ids(
    *, now: datetime | None = None, limit: int = 500, grace_seconds: float | None = None
) -> list[str]:
    """Pending rows that are due and not leased: what the sweeper re-enqueues.

    Rows due less than `grace_seconds` ago are left to the task enqueued on commit (or with a
    countdown), so a busy queue is not filled with duplicates.
    """
    now = now or timezone.now()
    if grace_seconds is None:
        grace_seconds = settings.TSUNAGU["SWEEP_GRACE_SECONDS"]
    return [
        str(pk)
        for pk in OutboxMessage.objects.filter(
            state=DeliveryState.PENDING,
            next_attempt_at__lte=now - timedelta(seconds=grace_seconds),
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    ]
