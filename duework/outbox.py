"""The notifications and audit events of one sweep batch, written in bulk at the end of the
batch's transaction (one COPY each), and one enqueue after its commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from audit.bulk import copy_rows
from audit.context import Actor
from audit.services import audit_record_many
from notifications.models import Channel, InAppNotification, OutboxMessage
from notifications.notify import AgencyLike, HandoffLike, enqueue_on_commit, outbox_rows

SYSTEM = Actor.system("duework")


def emails(*values: str | None) -> list[str]:
    """Distinct, sorted, non-empty addresses."""
    return sorted({v for v in values if v})


@dataclass
class Batch:
    """What one batch queues; `webhooks`: the agencies (of this batch) with an endpoint."""

    webhooks: set[int]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)

    def notify(
        self,
        event: str,
        *,
        agency: AgencyLike,
        payload: dict[str, Any],
        handoff: HandoffLike | None = None,
        email_to: list[str] | None = None,
        channels: tuple[str, ...] = (Channel.EMAIL, Channel.WEBHOOK),
    ) -> dict[str, Any]:
        """Queue one agency's notification (and its in-app notice); returns what the firing's
        audit event says of it: the agency, its outbox ids and channels."""
        rows = outbox_rows(
            event,
            agency=agency,
            handoff=handoff,
            payload=payload,
            email_to=email_to,
            channels=channels,
            has_webhook=agency.pk in self.webhooks,
        )
        self.rows += rows
        self.notices.append(
            {
                "agency_id": agency.pk,
                "event_type": event,
                "handoff_id": handoff.pk if handoff else None,
            }
        )
        return {
            "agency_id": agency.pk,
            "outbox_ids": [str(row["id"]) for row in rows],
            "channels": sorted({str(row["channel"]) for row in rows} | {"in_app"}),
        }

    def write(self) -> None:
        now = timezone.now()
        for row in self.rows:
            row.setdefault("created_at", now)
            row.setdefault("next_attempt_at", now)
        for notice in self.notices:
            notice.setdefault("created_at", now)
        copy_rows(OutboxMessage, self.rows)
        copy_rows(InAppNotification, self.notices)
        audit_record_many(self.audits)
        enqueue_on_commit([str(row["id"]) for row in self.rows])
