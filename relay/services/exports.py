"""Exports for people and operators: each is audited before its first row is written.

The audit event is committed in a transaction of its own before the caller streams or writes
the file, so an export that fails half-way is still on record. Every file is written by the
one CSV writer (csvexport), which neutralises formula cells and adds the BOM Excel needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from agencies.actors import Staff
from agencies.models import Role
from audit.context import Actor
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record_now
from relay.branches import Branches
from relay.provision import LABELLED, Layout, ProvisionQuery, provision_records

# The audit event names at most this many handoffs; `rows` always has the full count.
AUDITED_HANDOFF_IDS = 500


@dataclass(frozen=True)
class CsvExport:
    """A file ready for the CSV writer: its name, header and rows."""

    filename: str
    header: list[str]
    rows: Iterable[Sequence[Any]]
    count: int


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


def provision_records_export(
    *, query: ProvisionQuery, actor: Actor, layout: Layout = LABELLED
) -> CsvExport:
    """Export the records of provision and receipt (the screen's download and the command)."""
    records = provision_records(query)
    audit_record_now(
        action=AuditAction.PROVISION_RECORDS_EXPORTED,
        actor=actor,
        object_type="report",
        object_id="provision_records",
        sheet_id=query.sheet_id,
        recipient_agency_id=query.agency.pk if query.agency is not None else None,
        detail={
            "start": query.start.isoformat(),
            "end": query.end.isoformat(),
            "direction": query.direction,
            "layout": layout.name,
            "rows": len(records),
            "handoff_ids": [r.handoff_id for r in records][:AUDITED_HANDOFF_IDS],
        },
    )
    return CsvExport(
        filename=f"tsunagu-provision-records-{_stamp()}.csv",
        header=layout.header(),
        rows=(layout.row(r) for r in records),
        count=len(records),
    )


# Events per chunk of the audit CSV: read by id from each branch, never by OFFSET.
AUDIT_EXPORT_CHUNK = 1000


@dataclass(frozen=True)
class AuditLogExport:
    """The events to write (a snapshot up to the export), chunk by chunk, oldest first, and
    how many there are."""

    chunks: Iterator[list[AuditEvent]]
    count: int
    filename: str


def audit_log_export(
    *,
    staff: Staff,
    events: Branches,
    filters: dict[str, Any],
    sheet_id: int | None = None,
) -> AuditLogExport:
    """A supervisor exports (a filtered view of) the audit trail their agency may see.

    `events` is already restricted to what the agency may see: the branches the audit page
    reads (relay.reports.audit_event_branches), walked oldest first by id, a chunk at a time;
    the export is a snapshot: events up to now, not the export's own event nor anything
    written meanwhile.
    """
    staff.require_role(Role.SUPERVISOR)
    last_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    snapshot = events.filter(id__lte=last_id)
    count = snapshot.count()
    audit_record_now(
        action=AuditAction.AUDIT_EXPORTED,
        actor=staff.audit_actor(),
        object_type="audit",
        sheet_id=sheet_id,
        detail={"filters": filters, "rows": count},
    )
    return AuditLogExport(
        chunks=snapshot.ascending(AUDIT_EXPORT_CHUNK),
        count=count,
        filename=f"tsunagu-audit-{_stamp()}.csv",
    )
