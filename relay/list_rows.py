"""The rows of the inbox and outbox tables as plain columns (issue 14): what a row shows,
selected with QuerySet.values() from the selectors' indexed queries, without a model instance
(or the sheet's row) per row. relay/handoffs/_table.html reads them as it reads a Handoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relay.states import Status


@dataclass(frozen=True, slots=True)
class _AgencyName:
    """An agency's or a program's name, as the table reads it (`h.to_agency.name`)."""

    name: str


@dataclass(frozen=True, slots=True)
class HandoffRow:
    """What a row of the inbox or outbox table shows (relay/handoffs/_table.html), read as
    plain columns: no model instance, no sheet row, per row."""

    pk: int
    sheet_id: int
    status: str
    urgent: bool
    escalation_level: int
    created_at: Any
    sent_at: Any
    ack_due_at: Any
    acknowledged_at: Any
    shared_school: str
    shared_grade: str
    from_agency: _AgencyName
    to_agency: _AgencyName
    service_id: int | None = None
    service: _AgencyName | None = None  # the receiver's program the hop asks for
    returned: bool = False

    # One declared list: the table's columns, as QuerySet.values() paths (the row's fields
    # above, the agencies' names through their foreign keys).
    COLUMNS = (
        "id",
        "sheet_id",
        "status",
        "urgent",
        "escalation_level",
        "created_at",
        "sent_at",
        "ack_due_at",
        "acknowledged_at",
        "shared_school",
        "shared_grade",
        "from_agency__name",
        "to_agency__name",
        "service_id",
        "service__name",
    )

    @classmethod
    def from_values(cls, row: dict[str, Any]) -> HandoffRow:
        return cls(
            pk=row["id"],
            sheet_id=row["sheet_id"],
            status=row["status"],
            urgent=row["urgent"],
            escalation_level=row["escalation_level"],
            created_at=row["created_at"],
            sent_at=row["sent_at"],
            ack_due_at=row["ack_due_at"],
            acknowledged_at=row["acknowledged_at"],
            shared_school=row["shared_school"],
            shared_grade=row["shared_grade"],
            from_agency=_AgencyName(row["from_agency__name"]),
            to_agency=_AgencyName(row["to_agency__name"]),
            service_id=row["service_id"],
            service=None if row["service_id"] is None else _AgencyName(row["service__name"]),
            returned=row.get("returned", False),
        )

    def get_status_display(self) -> str:
        return str(Status(self.status).label)
