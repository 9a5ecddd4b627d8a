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
import random
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

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
    """What a receiver does: recompute, compare in constant time, reject stale timestamps."""
    msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        return False
    if abs((now or time.time()) - int(stamp)) > tolerance:
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
    parts = urlsplit(url)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and settings.TSUNAGU["WEBHOOK_ALLOW_HTTP"]
    ):
        raise UnsafeEndpoint("only https endpoints are allowed")
    if not parts.hostname:
        raise UnsafeEndpoint("no host")
    if settings.TSUNAGU["WEBHOOK_ALLOW_PRIVATE"]:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnsafeEndpoint("host does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise UnsafeEndpoint("host resolves to a non-public address")


def claim(message_id: str, *, now: datetime | None = None) -> OutboxMessage | None:
    """Take the row for this worker for one lease, if it is due and nobody holds it."""
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
    ok: bool
    status_code: int | None = None
    error: str = ""
    retry_after: float | None = None
    gone: bool = False
    permanent: bool = False


def _send_email(message: OutboxMessage) -> Result:
    context = {"event": message.event_type, "data": message.payload.get("data", {})}
    with translation.override("ja"):
        subject = render_to_string("relay/email/subject.txt", context).strip()
        body = render_to_string("relay/email/body.txt", context)
    EmailMessage(
        subject=subject,
        body=body,
        to=message.recipients,
        headers={"X-Tsunagu-Message-Id": str(message.pk)},
    ).send()
    return Result(ok=True)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def webhook_request(message: OutboxMessage, endpoint: WebhookEndpoint) -> tuple[dict, bytes]:
    body = json.dumps(
        {
            "type": message.event_type,
            "id": str(message.pk),
            "created_at": message.created_at.isoformat(),
            "data": message.payload.get("data", {}),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    timestamp = int(time.time())
    signatures = [sign(endpoint.secret, str(message.pk), timestamp, body)]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and (endpoint.previous_secret_expires_at > timezone.now())
    ):
        signatures.append(sign(endpoint.previous_secret, str(message.pk), timestamp, body))
    headers = {
        "content-type": "application/json",
        "user-agent": "Tsunagu-Webhooks/1.0",
        "webhook-id": str(message.pk),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
    return headers, body


def _send_webhook(message: OutboxMessage) -> Result:
    endpoint = WebhookEndpoint.objects.filter(agency=message.agency_id).first()
    if endpoint is None or endpoint.state == EndpointState.DISABLED:
        return Result(ok=False, error="endpoint disabled or removed", permanent=True)
    try:
        check_endpoint(endpoint.url)
    except UnsafeEndpoint as exc:
        return Result(ok=False, error=str(exc), permanent=True)
    headers, body = webhook_request(message, endpoint)
    try:
        response = httpx.post(
            endpoint.url,
            content=body,
            headers=headers,
            timeout=settings.TSUNAGU["WEBHOOK_TIMEOUT_SECONDS"],
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        return Result(ok=False, error=type(exc).__name__)
    if 200 <= response.status_code < 300:
        return Result(ok=True, status_code=response.status_code)
    return Result(
        ok=False,
        status_code=response.status_code,
        error=f"HTTP {response.status_code}",
        retry_after=_retry_after(response.headers.get("retry-after")),
        gone=response.status_code == 410,
    )


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


def _backoff(attempts: int) -> timedelta | None:
    schedule = settings.TSUNAGU["RETRY_SCHEDULE"]
    if attempts >= len(schedule):
        return None
    base = schedule[attempts]
    return timedelta(seconds=base + random.uniform(0, base * 0.1))  # noqa: S311 (jitter)


@transaction.atomic
def record_result(message: OutboxMessage, result: Result, *, latency_ms: int) -> str:
    message = OutboxMessage.objects.select_for_update().get(pk=message.pk)
    now = timezone.now()
    message.attempts += 1
    DeliveryAttempt.objects.create(
        message=message,
        status_code=result.status_code,
        latency_ms=latency_ms,
        error=result.error[:300],
        succeeded=result.ok,
    )
    audit_common = {
        "actor": SYSTEM,
        "object_type": "outbox",
        "object_id": str(message.pk),
        "recipient_agency_id": message.agency_id,
        "sheet_id": message.handoff.sheet_id if message.handoff else None,
    }
    if result.ok:
        message.state = DeliveryState.DELIVERED
        message.delivered_at = now
        message.locked_until = None
        message.save(update_fields=["state", "delivered_at", "locked_until", "attempts"])
        audit_record(
            action=AuditAction.NOTIFICATION_DELIVERED,
            **audit_common,
            detail={
                "channel": message.channel,
                "event": message.event_type,
                "attempts": message.attempts,
            },
        )
        return "delivered"
    message.last_error = result.error[:300]
    delay = None if (result.gone or result.permanent) else _backoff(message.attempts)
    if delay is not None:
        if result.retry_after is not None:
            delay = max(delay, timedelta(seconds=min(result.retry_after, 86400)))
        message.next_attempt_at = now + delay
        message.locked_until = None
        message.save(update_fields=["attempts", "last_error", "next_attempt_at", "locked_until"])
        return "retry"
    message.state = DeliveryState.FAILED
    message.locked_until = None
    message.save(update_fields=["attempts", "last_error", "state", "locked_until"])
    audit_record(
        action=AuditAction.NOTIFICATION_FAILED,
        **audit_common,
        detail={
            "channel": message.channel,
            "event": message.event_type,
            "attempts": message.attempts,
            "error": message.last_error,
        },
    )
    if message.channel == Channel.WEBHOOK:
        _endpoint_gave_up(message, gone=result.gone)
    if message.handoff_id and message.event_type == "handoff.sent":
        # Escalation treats the receiver as not notified.
        Handoff.objects.filter(pk=message.handoff_id).update(receiver_notified=False)
    return "gone" if result.gone else "failed"


def supervisor_emails(agency_id: int) -> list[str]:
    return sorted(
        email
        for email in Membership.objects.filter(
            agency_id=agency_id, role=Role.SUPERVISOR
        ).values_list("user__email", flat=True)
        if email
    )


def _endpoint_gave_up(message: OutboxMessage, *, gone: bool) -> None:
    """410: disable the endpoint. Retries exhausted: mark it failing. Supervisors are told."""
    from relay.notify import notify_agency

    endpoint = WebhookEndpoint.objects.select_for_update().filter(agency=message.agency_id).first()
    if endpoint is None:
        return
    endpoint.state = EndpointState.DISABLED if gone else EndpointState.FAILING
    endpoint.state_reason = message.last_error
    endpoint.save(update_fields=["state", "state_reason", "updated_at"])
    if gone:
        audit_record(
            action=AuditAction.WEBHOOK_DISABLED,
            actor=SYSTEM,
            object_type="agency",
            object_id=message.agency_id,
            recipient_agency_id=message.agency_id,
            detail={"outbox_id": str(message.pk)},
        )
    event = "webhook.disabled" if gone else "webhook.failing"
    notify_agency(
        event,
        agency=message.agency,
        handoff=None,
        payload={
            "type": event,
            "data": {"agency": message.agency.slug, "outbox_id": str(message.pk)},
        },
        actor=SYSTEM,
        email_to=supervisor_emails(message.agency_id),
        channels=[Channel.EMAIL],
    )


def due_message_ids(*, now: datetime | None = None, limit: int = 500) -> list[str]:
    """Pending rows that are due and not leased: what the sweeper re-enqueues."""
    now = now or timezone.now()
    return [
        str(pk)
        for pk in OutboxMessage.objects.filter(
            state=DeliveryState.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    ]
