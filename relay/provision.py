"""Records of provision and receipt of personal data (APPI Art. 29 and 30).

Every sent hop is a provision by its sender and a receipt by its receiver. The export names
the subject by initials and sheet id only, and is itself audited.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from django.db import transaction
from django.db.models import Q, QuerySet

from agencies.models import Agency
from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record
from relay.models import Handoff

COLUMNS = (
    "direction",
    "handoff_id",
    "sent_at",
    "provider",
    "recipient",
    "subject_reference",
    "sections",
    "purpose",
    "basis",
    "consent_id",
    "status",
)


@dataclass(frozen=True)
class ProvisionQuery:
    """Which records: a period, optionally one agency (both directions) or one sheet."""

    start: datetime
    end: datetime
    agency: Agency | None = None
    sheet_id: int | None = None


def _hops(query: ProvisionQuery) -> QuerySet[Handoff]:
    qs = Handoff.objects.filter(
        sent_at__isnull=False, sent_at__gte=query.start, sent_at__lt=query.end
    )
    if query.agency is not None:
        qs = qs.filter(Q(from_agency=query.agency) | Q(to_agency=query.agency))
    if query.sheet_id is not None:
        qs = qs.filter(sheet_id=query.sheet_id)
    return qs.select_related("sheet", "from_agency", "to_agency", "consent").order_by(
        "sent_at", "id"
    )


def provision_rows(query: ProvisionQuery) -> Iterator[dict[str, str]]:
    for hop in _hops(query).iterator(chunk_size=1000):
        directions = ["provided", "received"]
        if query.agency is not None:
            directions = ["provided"] if hop.from_agency_id == query.agency.pk else ["received"]
        for direction in directions:
            yield {
                "direction": direction,
                "handoff_id": str(hop.pk),
                "sent_at": hop.sent_at.isoformat() if hop.sent_at else "",
                "provider": hop.from_agency.name,
                "recipient": hop.to_agency.name,
                "subject_reference": f"{hop.sheet.subject_initials} (シート #{hop.sheet_id})",
                "sections": " ".join(hop.sections),
                "purpose": hop.purpose,
                "basis": hop.consent.basis if hop.consent else "",
                "consent_id": str(hop.consent_id or ""),
                "status": hop.status,
            }


@transaction.atomic
def export_provision_records(*, query: ProvisionQuery, out: TextIO, actor: Actor) -> int:
    """Write the CSV and audit the export; returns the number of rows."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    count = 0
    for row in provision_rows(query):
        writer.writerow(row)
        count += 1
    audit_record(
        action=AuditAction.PROVISION_RECORDS_EXPORTED,
        actor=actor,
        object_type="report",
        object_id="provision_records",
        sheet_id=query.sheet_id,
        recipient_agency_id=query.agency.pk if query.agency else None,
        detail={"from": query.start.isoformat(), "to": query.end.isoformat(), "rows": count},
    )
    return count
