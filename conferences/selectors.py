"""Permission-filtered reads of conferences: a participant's meetings, and the ward
coordinator's overdue list (ages and agencies, never a section's content)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q

from agencies.actors import Staff
from agencies.errors import NotFound
from agencies.models import Agency
from conferences.access import basis_holds
from conferences.models import CaseMeeting, PlanAction
from consent.councils import councils_in_force
from consent.models import Council, CouncilMember
from duework import policy as clocks
from duework.models import Clock, ClockState

COORDINATED_KINDS = (
    clocks.HANDOFF_ACK,
    clocks.HANDOFF_DECISION,
    clocks.HANDOFF_OUTCOME,
    clocks.PLAN_ACTION,
    clocks.MEETING_REVIEW,
)


def meetings_for(*, staff: Staff, limit: int = 100) -> list[CaseMeeting]:
    """The meetings the agency takes part in whose basis still holds, newest first (read
    through the participants' (agency, meeting) index)."""
    meetings = (
        CaseMeeting.objects.filter(participants__agency=staff.agency)
        .select_related("sheet", "organizer", "council")
        .order_by("-held_on", "-id")[:limit]
    )
    return [m for m in meetings if basis_holds(m, staff.agency)]


def open_actions_for(*, staff: Staff) -> list[PlanAction]:
    """The plan actions the agency owns that are still open, oldest due first."""
    return list(
        PlanAction.objects.filter(owner_agency=staff.agency, state="open")
        .select_related("meeting")
        .order_by("due_on", "id")[:100]
    )


def is_coordinator(agency: Agency, at: datetime) -> bool:
    """The coordinating agency of a council in force in its municipality, or the configured
    ward coordinator (TSUNAGU["ESCALATION"]["coordinator_agency"])."""
    configured = settings.TSUNAGU.get("ESCALATION", {}).get("coordinator_agency", "")
    if configured and agency.slug == configured:
        return True
    return any(
        c.coordinating_agency_id == agency.pk
        for c in councils_in_force(municipality=agency.municipality, at=at)
    )


@dataclass(frozen=True)
class OverdueRow:
    """One overdue clock as the coordinator sees it: what kind, how late, who is involved,
    at which level; a hop or action id, no content."""

    kind: str
    kind_label: str
    subject_id: int | None
    sheet_id: int | None
    due_at: datetime
    age: timedelta
    level: int
    owner: Agency
    others: list[Agency]
    is_party: bool


def overdue_for_coordinator(*, staff: Staff, now: datetime) -> list[OverdueRow]:
    """Overdue hops, plan actions and reviews of the coordinator's municipality."""
    if not is_coordinator(staff.agency, now):
        raise NotFound()
    clock_rows = list(
        Clock.objects.filter(
            state=ClockState.OPEN,
            kind__in=COORDINATED_KINDS,
            due_at__lt=now,
            owner_agency__municipality=staff.agency.municipality,
        )
        .select_related("owner_agency")
        .order_by("due_at", "id")[:500]
    )
    other_ids = {
        v
        for c in clock_rows
        for k, v in c.context.items()
        if k in ("from_agency_id", "to_agency_id") and v
    }
    others = Agency.objects.in_bulk(other_ids)
    rows = []
    for c in clock_rows:
        involved = [
            others[v]
            for k in ("from_agency_id", "to_agency_id")
            if (v := c.context.get(k)) and v != c.owner_agency_id and v in others
        ]
        party = staff.agency.pk == c.owner_agency_id or any(
            a.pk == staff.agency.pk for a in involved
        )
        rows.append(
            OverdueRow(
                kind=c.kind,
                kind_label=str(clocks.KIND_LABELS.get(c.kind, c.kind)),
                subject_id=c.subject_id,
                sheet_id=c.sheet_id,
                due_at=c.due_at,
                age=now - c.due_at,
                level=c.level,
                owner=c.owner_agency,
                others=involved,
                is_party=party,
            )
        )
    return rows


@dataclass(frozen=True)
class PlanState:
    """One coordinated meeting's plan as its council's coordinating agency sees it: who owns
    which action, its due date and state; what the action is only where it is a party."""

    meeting: CaseMeeting
    actions: list[PlanAction]


def plans_coordinated_by(*, staff: Staff, now: datetime) -> list[PlanState]:
    """The plans of meetings held under councils the agency coordinates (in force)."""
    meetings = list(
        CaseMeeting.objects.filter(
            council__coordinating_agency=staff.agency, council__valid_from__lte=now
        )
        .select_related("organizer", "council")
        .order_by("-held_on", "-id")[:50]
    )
    actions: dict[int, list[PlanAction]] = {}
    for action in (
        PlanAction.objects.filter(meeting__in=meetings)
        .select_related("owner_agency")
        .order_by("due_on", "id")
    ):
        actions.setdefault(action.meeting_id, []).append(action)
    return [PlanState(meeting=m, actions=actions.get(m.pk, [])) for m in meetings]


def _councils_visible(*, agency: Agency | None, is_admin: bool, now: datetime) -> Any:
    query = Council.objects.select_related("coordinating_agency")
    if is_admin:
        return query
    if agency is None:
        return query.none()
    seated = CouncilMember.objects.filter(agency=agency, valid_from__lte=now).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=now)
    )
    return query.filter(Q(coordinating_agency=agency) | Q(pk__in=seated.values("council_id")))


def councils_for(*, agency: Agency | None, is_admin: bool, now: datetime) -> list[Council]:
    """The councils a person sees: an administrator every council; an agency the ones it
    coordinates or is a member of now (read-only for members)."""
    visible = _councils_visible(agency=agency, is_admin=is_admin, now=now)
    return list(visible.order_by("municipality", "kind", "name", "id")[:200])


def council_for(
    *, agency: Agency | None, is_admin: bool, council_id: int, now: datetime
) -> Council:
    """One council, for an administrator, its coordinating agency or a current member;
    NotFound for anyone else (a former member, another council's member)."""
    visible = _councils_visible(agency=agency, is_admin=is_admin, now=now)
    council = visible.filter(pk=council_id).first()
    if council is None:
        raise NotFound()
    return council


def council_members(council: Council) -> list[CouncilMember]:
    """Every membership of the council with its period, current ones first."""
    return list(
        CouncilMember.objects.filter(council=council)
        .select_related("agency")
        .order_by(F("valid_until").desc(nulls_first=True), "agency__name", "id")
    )
