"""Recording notifications in the business transaction (the outbox), and nothing more.

Delivery happens in notifications.tasks after commit. A notification says what happened and
where (ids and links): never the person's initials, name or the consultation.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from agencies.models import Agency
from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record
from notifications.enqueue import enqueue_after_commit
from notifications.models import (
    Channel,
    EndpointState,
    InAppNotification,
    OutboxMessage,
    WebhookEndpoint,
)


class AgencyLike(Protocol):
    """What a notification reads of an agency."""

    @property
    def pk(self) -> Any: ...
    @property
    def slug(self) -> str: ...
    @property
    def intake_email(self) -> str: ...


class HandoffLike(Protocol):
    """What a notification reads of a hop: a Handoff, or the sweep's lighter row."""

    @property
    def pk(self) -> Any: ...
    @property
    def sheet_id(self) -> Any: ...
    @property
    def status(self) -> str: ...
    @property
    def urgent(self) -> bool: ...
    @property
    def from_agency(self) -> AgencyLike: ...
    @property
    def to_agency(self) -> AgencyLike: ...


@functools.cache
def _web_path_template() -> str:
    """The web UI's path of a hop, with "{pk}" for its id (reverse once, not per message)."""
    sentinel = 987654321
    try:
        return reverse("relay:handoff-detail", args=[sentinel]).replace(str(sentinel), "{pk}")
    except NoReverseMatch:  # the web UI is not installed
        return "/handoffs/{pk}/"


def handoff_links(handoff: HandoffLike) -> dict[str, str]:
    """Where the receiver reads the hop: the web UI and the partner API (ids only)."""
    return {
        "url": settings.SITE_URL + _web_path_template().format(pk=handoff.pk),
        "api_url": f"{settings.SITE_URL}/api/v1/handoffs/{handoff.pk}/",
    }


def handoff_payload(event_type: str, handoff: HandoffLike, **extra: Any) -> dict[str, Any]:
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


def outbox_rows(
    event_type: str,
    *,
    agency: AgencyLike,
    handoff: HandoffLike | None,
    payload: dict[str, Any],
    email_to: Iterable[str] | None,
    channels: Iterable[str],
    has_webhook: bool,
) -> list[dict[str, Any]]:
    """The outbox rows of one notification, as field values: e-mail if there is anyone to
    write to, webhook if the agency has an endpoint that is not disabled."""
    wanted = set(channels)
    recipients = (
        list(email_to)
        if email_to is not None
        else ([agency.intake_email] if agency.intake_email else [])
    )
    common = {
        "event_type": event_type,
        "agency_id": agency.pk,
        "handoff_id": handoff.pk if handoff else None,
        "payload": payload,
    }
    rows = []
    # The webhook first: the rows are enqueued in this order, and a partner system acts on
    # the webhook at once, while an e-mail waits for a person anyway.
    if Channel.WEBHOOK in wanted and has_webhook:
        rows.append({"id": uuid.uuid4(), "channel": Channel.WEBHOOK, "recipients": [], **common})
    if Channel.EMAIL in wanted and recipients:
        rows.append(
            {"id": uuid.uuid4(), "channel": Channel.EMAIL, "recipients": recipients, **common}
        )
    return rows


def queued_event(
    event_type: str,
    *,
    agency: AgencyLike,
    handoff: HandoffLike | None,
    actor: Actor,
    rows: list[dict[str, Any]],
    in_app: bool,
) -> dict[str, Any]:
    """The NOTIFICATION_QUEUED audit event of one notification (audit_record's arguments)."""
    return {
        "action": AuditAction.NOTIFICATION_QUEUED,
        "actor": actor,
        "object_type": "handoff" if handoff else "agency",
        "object_id": handoff.pk if handoff else agency.pk,
        "sheet_id": handoff.sheet_id if handoff else None,
        "recipient_agency_id": agency.pk,
        "detail": {
            "event": event_type,
            "outbox_ids": [str(row["id"]) for row in rows],
            "channels": sorted(
                {str(row["channel"]) for row in rows} | ({"in_app"} if in_app else set())
            ),
        },
    }


def agencies_with_webhook(agency_ids: Iterable[int]) -> set[int]:
    """Which of these agencies have an endpoint that is not disabled."""
    return set(
        WebhookEndpoint.objects.filter(agency_id__any=list(agency_ids))
        .exclude(state=EndpointState.DISABLED)
        .values_list("agency_id", flat=True)
    )


def notify_agency(
    event_type: str,
    *,
    agency: Agency,
    handoff: HandoffLike | None,
    payload: dict[str, Any],
    actor: Actor,
    email_to: Iterable[str] | None = None,
    channels: Iterable[str] = (Channel.EMAIL, Channel.WEBHOOK),
    in_app: bool = True,
) -> list[OutboxMessage]:
    """Queue one notification to an agency on every channel it has; audited; sent on commit."""
    channels = tuple(channels)
    rows = outbox_rows(
        event_type,
        agency=agency,
        handoff=handoff,
        payload=payload,
        email_to=email_to,
        channels=channels,
        # Queried, not read from agency.webhook: that reverse accessor caches "none" on the
        # instance, and an endpoint configured since would be missed.
        has_webhook=Channel.WEBHOOK in channels and bool(agencies_with_webhook([agency.pk])),
    )
    messages = OutboxMessage.objects.bulk_create([OutboxMessage(**row) for row in rows])
    if in_app:
        InAppNotification.objects.create(
            agency=agency, event_type=event_type, handoff_id=handoff.pk if handoff else None
        )
    audit_record(
        **queued_event(
            event_type, agency=agency, handoff=handoff, actor=actor, rows=rows, in_app=in_app
        )
    )
    enqueue_on_commit([str(m.pk) for m in messages])
    return messages


def enqueue_on_commit(ids: list[str]) -> None:
    """After commit, hand the rows to the broker; if it is down, the sweeper delivers later."""
    if ids:
        transaction.on_commit(lambda: enqueue_after_commit(ids))
