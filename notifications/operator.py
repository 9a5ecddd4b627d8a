"""What an operator may do to deliveries from the admin: retry messages now, re-enable an
endpoint. Each is a service: locked, audited in the same transaction, side effects on commit.
Neither shows or changes a payload (payloads carry ids only, by design)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record
from notifications.models import DeliveryState, EndpointState, OutboxMessage, WebhookEndpoint
from notifications.notify import enqueue_on_commit

RETRYABLE = (DeliveryState.PENDING, DeliveryState.FAILED)


@transaction.atomic
def outbox_retry_now(*, message_ids: Iterable[str], actor: Actor) -> int:
    """Make pending or failed messages due now and hand them to the broker; returns how many.

    A failed message gets one more attempt (its attempt count is kept, so a further failure
    fails it again rather than restarting the backoff). Delivered and cancelled ones are left.
    """
    now = timezone.now()
    messages = list(
        OutboxMessage.objects.select_for_update()
        .filter(pk__in=list(message_ids), state__in=RETRYABLE)
        .order_by("pk")
    )
    for message in messages:
        previous = message.state
        message.state = DeliveryState.PENDING
        message.next_attempt_at = now
        message.locked_until = None
        message.save(update_fields=["state", "next_attempt_at", "locked_until"])
        audit_record(
            action=AuditAction.NOTIFICATION_RETRIED,
            actor=actor,
            object_type="outbox_message",
            object_id=str(message.pk),
            recipient_agency_id=message.agency_id,
            detail={
                "channel": message.channel,
                "event_type": message.event_type,
                "previous_state": previous,
                "attempts": message.attempts,
                "handoff_id": message.handoff_id,
            },
        )
    enqueue_on_commit([str(m.pk) for m in messages])
    return len(messages)


@transaction.atomic
def webhook_reenable(*, endpoint_id: int, actor: Actor) -> bool:
    """Set a failing or disabled endpoint active again; False if it already was."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if endpoint.state == EndpointState.ACTIVE:
        return False
    previous, reason = endpoint.state, endpoint.state_reason
    endpoint.state = EndpointState.ACTIVE
    endpoint.state_reason = ""
    endpoint.save(update_fields=["state", "state_reason", "updated_at"])
    audit_record(
        action=AuditAction.WEBHOOK_REENABLED,
        actor=actor,
        object_type="webhook_endpoint",
        object_id=endpoint.pk,
        recipient_agency_id=endpoint.agency_id,
        detail={
            "host": urlsplit(endpoint.url).hostname or "",
            "previous_state": previous,
            "previous_reason": reason[:200],
        },
    )
    return True
