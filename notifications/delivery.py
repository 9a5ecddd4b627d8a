"""Delivering outbox messages: claim, send once, record the attempt, schedule the retry.

At-least-once with a stable id: a message is claimed with a conditional update (a lease), so two
tasks for the same row never send at once; if a worker dies mid-send, the lease runs out and the
sweeper sends it again under the same webhook-id, which receivers use to drop duplicates.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from agencies.models import Membership, Role
from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record
from notifications import delivery_sql
from notifications.enqueue import enqueue_deliveries
from notifications.models import (
    Channel,
    DeliveryAttempt,
    DeliveryState,
    EndpointState,
    OutboxMessage,
    WebhookEndpoint,
)
from notifications.notify import notify_agency
from notifications.signals import receiver_not_notified
from notifications.transport import Result, send_email, send_webhook

log = logging.getLogger(__name__)
SYSTEM = Actor.system("notifications")
SENT_EVENT = "handoff.sent"
# A test event (notifications.services) is tried once and says nothing about the endpoint.
TEST_EVENT = "webhook.test"


class Claimed(NamedTuple):
    """A row this worker holds the lease of, and for a webhook the agency's endpoint."""

    message: OutboxMessage
    endpoint: WebhookEndpoint | None


def claim(message_id: str, *, now: datetime | None = None) -> Claimed | None:
    """Take the row for this worker for one lease, if it is due and nobody holds it."""
    try:
        uuid.UUID(str(message_id))
    except ValueError:
        return None  # not one of ours: nothing to claim
    now = now or timezone.now()
    lease = timedelta(seconds=settings.TSUNAGU["DELIVERY_LEASE_SECONDS"])
    if connection.vendor == "postgresql":
        claimed = delivery_sql.claim(message_id, now=now, until=now + lease)
        return None if claimed is None else Claimed(*claimed)
    taken = (
        OutboxMessage.objects.filter(
            pk=message_id, state=DeliveryState.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + lease)
    )
    if not taken:
        return None
    message = OutboxMessage.objects.select_related("agency", "handoff").get(pk=message_id)
    endpoint = (
        WebhookEndpoint.objects.filter(agency=message.agency_id).first()
        if message.channel == Channel.WEBHOOK
        else None
    )
    return Claimed(message, endpoint)


def deliver(message_id: str) -> str:
    """Claim, send and record one message; returns what happened (for logs and tests)."""
    claimed = claim(message_id)
    if claimed is None:
        return "not-claimed"
    message = claimed.message
    started = time.monotonic()
    try:
        result = (
            send_email(message)
            if message.channel == Channel.EMAIL
            else send_webhook(message, claimed.endpoint)
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
    now = timezone.now()
    if result.ok and connection.vendor == "postgresql":
        # One statement logs the attempt and settles the row if it is still pending.
        attempts = delivery_sql.record_delivered(
            message.pk, now=now, status_code=result.status_code, latency_ms=latency_ms
        )
        if attempts is None:
            return "already-settled"
        message.state, message.attempts, message.delivered_at = (
            DeliveryState.DELIVERED,
            attempts,
            now,
        )
        message.locked_until, message.last_error = None, ""
        return _delivered(message, result)
    # Lock the row (the claim's copy, with its agency and hop, serves for the rest) and
    # read what may have changed since the claim.
    message.state, message.attempts = (
        OutboxMessage.objects.select_for_update()
        .filter(pk=message.pk)
        .values_list("state", "attempts")
        .get()
    )
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
        return _delivered(message, result)
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
            transaction.on_commit(lambda: enqueue_deliveries(ids, countdown=countdown))
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


def _delivered(message: OutboxMessage, result: Result) -> str:
    """What follows a delivery, in its transaction: the audit event, the endpoint healthy."""
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


def _receiver_not_notified(messages: list[OutboxMessage]) -> None:
    """A handoff whose arrival could not be announced: escalation goes over the receiver."""
    handoff_ids = [m.handoff_id for m in messages if m.handoff_id and m.event_type == SENT_EVENT]
    if handoff_ids:
        # The relay owns the hop: it listens and marks the hops (same transaction).
        receiver_not_notified.send(sender=OutboxMessage, handoff_ids=handoff_ids)


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
        agency_id__any=list(agency_ids), role=Role.SUPERVISOR
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
