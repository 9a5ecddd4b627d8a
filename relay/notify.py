"""Recording notifications in the business transaction (the outbox), and nothing more.

Delivery happens in relay.tasks after commit. A notification says what happened and where
(ids and links): never the person's initials, name or the consultation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from agencies.models import Agency, EndpointState, WebhookEndpoint
from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record
from relay.models import Handoff, InAppNotification, OutboxMessage
from relay.models.outbox import Channel


def handoff_links(handoff: Handoff) -> dict[str, str]:
    """Where the receiver reads the hop: the web UI and the partner API (ids only)."""
    try:
        web = reverse("relay:handoff-detail", args=[handoff.pk])
    except NoReverseMatch:
        web = f"/handoffs/{handoff.pk}/"
    return {
        "url": f"{settings.SITE_URL}{web}",
        "api_url": f"{settings.SITE_URL}/api/v1/handoffs/{handoff.pk}/",
    }


def handoff_payload(event_type: str, handoff: Handoff, **extra: Any) -> dict[str, Any]:
    """The webhook/e-mail body: ids, states and links only."""
    return {
        "type": event_type,
        "data": {
            "handoff_id": handoff.pk,
            "sheet_id": handoff.sheet_id,
            "status": handoff.status,
            "from_agency": handoff.from_agency.slug,
            "to_agency": handoff.to_agency.slug,
            "urgent": handoff.urgent,
            **handoff_links(handoff),
            **extra,
        },
    }


def notify_agency(
    event_type: str,
    *,
    agency: Agency,
    handoff: Handoff | None,
    payload: dict[str, Any],
    actor: Actor,
    email_to: Iterable[str] | None = None,
    channels: Iterable[str] = (Channel.EMAIL, Channel.WEBHOOK),
    in_app: bool = True,
) -> list[OutboxMessage]:
    """Queue one notification to an agency on every channel it has; audited; sent on commit."""
    wanted = set(channels)
    messages: list[OutboxMessage] = []
    recipients = (
        list(email_to)
        if email_to is not None
        else ([agency.intake_email] if agency.intake_email else [])
    )
    if Channel.EMAIL in wanted and recipients:
        messages.append(
            OutboxMessage(
                event_type=event_type,
                channel=Channel.EMAIL,
                agency=agency,
                handoff=handoff,
                recipients=recipients,
                payload=payload,
            )
        )
    # Queried, not read from agency.webhook: that reverse accessor caches "none" on the
    # instance, and an endpoint configured since would be missed.
    has_endpoint = (
        Channel.WEBHOOK in wanted
        and WebhookEndpoint.objects.filter(agency=agency)
        .exclude(state=EndpointState.DISABLED)
        .exists()
    )
    if has_endpoint:
        messages.append(
            OutboxMessage(
                event_type=event_type,
                channel=Channel.WEBHOOK,
                agency=agency,
                handoff=handoff,
                payload=payload,
            )
        )
    OutboxMessage.objects.bulk_create(messages)
    if in_app:
        InAppNotification.objects.create(agency=agency, event_type=event_type, handoff=handoff)
    audit_record(
        action=AuditAction.NOTIFICATION_QUEUED,
        actor=actor,
        object_type="handoff" if handoff else "agency",
        object_id=handoff.pk if handoff else agency.pk,
        sheet_id=handoff.sheet_id if handoff else None,
        recipient_agency_id=agency.pk,
        detail={
            "event": event_type,
            "outbox_ids": [str(m.pk) for m in messages],
            "channels": sorted({m.channel for m in messages} | ({"in_app"} if in_app else set())),
        },
    )
    ids = [str(m.pk) for m in messages]
    if ids:
        transaction.on_commit(lambda: _enqueue(ids))
    return messages


def _enqueue(ids: list[str]) -> None:
    """Hand the rows to the broker; if it is down, the sweeper picks them up later."""
    from relay.tasks import enqueue_deliveries

    enqueue_deliveries(ids)
