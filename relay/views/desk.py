"""A routing desk's triage screens: its inbox (hops received, intake records), each with
suggested agencies, and the actions on them (assign, route, return; open an intake, make a
sheet of it, close it). Only the desk's own staff reach them; any other agency gets a 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.actors import READERS, RECEIVERS, SENDERS, Staff
from agencies.errors import (
    ConsentDoesNotCover,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from agencies.models import Agency, AgencyKind, RoutingDesk
from relay.models import DeskAssignment, Handoff, IntakeRecord, IntakeStatus
from relay.selectors import handoffs_inbox_for
from relay.services import desks
from relay.states import Status
from relay.suggestions import Person, person_from_hop, suggestions_for
from relay.views.base import staff_view

OPEN_HOPS = (Status.SENT, Status.ACKNOWLEDGED, Status.ACCEPTED)
OPEN_INTAKE = (IntakeStatus.NEW, IntakeStatus.ASSIGNED)
LIST_SIZE = 25


def _desk(staff: Staff) -> RoutingDesk:
    desk = desks.routing_desk_of(staff.agency)
    if desk is None:
        raise NotFound()
    return desk


def _routing_kinds(handoff: Handoff, desk: RoutingDesk) -> list[str] | None:
    """The kinds the person agreed the desk may choose among (None: not a routing consent)."""
    consent = handoff.consent
    if consent is not None and consent.routing_desk_id == desk.agency_id:
        return list(consent.routing_kinds)
    return None


@staff_view(*READERS)
def desk_inbox(request: HttpRequest, staff: Staff) -> HttpResponse:
    desk = _desk(staff)
    hops = list(handoffs_inbox_for(agency=staff.agency, statuses=OPEN_HOPS)[:LIST_SIZE])
    assignments = {
        a.handoff_id: a
        for a in DeskAssignment.objects.filter(handoff__in=hops).select_related("assignee")
    }
    routed: dict[int, list[Handoff]] = {}
    for child in Handoff.objects.filter(parent__in=hops, from_agency=staff.agency).select_related(
        "to_agency"
    ):
        routed.setdefault(child.parent_id or 0, []).append(child)
    # Agencies that already have each sheet (its owner, and every hop's receiver).
    holders: dict[int, set[int]] = {}
    for sheet_id, owner_id, to_id in Handoff.objects.filter(
        sheet_id__in={h.sheet_id for h in hops}
    ).values_list("sheet_id", "sheet__owner_agency_id", "to_agency_id"):
        holders.setdefault(sheet_id, set()).update({owner_id, to_id})
    hop_rows = []
    for hop in hops:
        kinds = _routing_kinds(hop, desk)
        hop_rows.append(
            {
                "hop": hop,
                "assignment": assignments.get(hop.pk),
                "routed": routed.get(hop.pk, []),
                "routing_kinds": kinds,
                "routing_kind_labels": [str(AgencyKind(k).label) for k in kinds or []],
                "suggestions": suggestions_for(
                    desk=desk,
                    person=person_from_hop(hop, desk),
                    kinds=kinds,
                    exclude=holders.get(hop.sheet_id, set()),
                )
                if kinds is not None
                else [],
            }
        )
    intakes = list(
        IntakeRecord.objects.filter(desk=staff.agency, status__in=OPEN_INTAKE)
        .select_related("assignee")
        .order_by("-id")[:LIST_SIZE]
    )
    nearby = suggestions_for(
        desk=desk, person=Person(municipality=desk.municipality, prefecture=desk.prefecture)
    )
    return render(
        request,
        "relay/desk/inbox.html",
        {
            "desk": desk,
            "hop_rows": hop_rows,
            "intakes": intakes,
            "nearby": nearby,
            "colleagues": desks.desk_colleagues(agency=staff.agency),
            "can_route": staff.role in SENDERS,
            "can_assign": staff.role in RECEIVERS,
        },
    )


def _int(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() and len(text) < 12 else None


def _assign(
    request: HttpRequest,
    staff: Staff,
    assign: Callable[..., object],
    back: HttpResponse,
    **what: int,
) -> HttpResponse:
    """Assign a hop or an intake record (`what`, by the desks service `assign`) to the
    colleague the form names, say how it went, and go `back`."""
    _desk(staff)
    try:
        assign(staff=staff, assignee_id=_int(request.POST.get("assignee")) or 0, **what)
    except (InvalidInput, IllegalTransition):
        messages.error(request, _("担当者を選び直してください。"))
    else:
        messages.success(request, _("担当者を決めました。"))
    return back


@require_POST
@staff_view(*RECEIVERS)
def desk_assign(request: HttpRequest, staff: Staff, handoff_id: int) -> HttpResponse:
    back = redirect("relay:desk")
    return _assign(request, staff, desks.handoff_assign, back, handoff_id=handoff_id)


@require_POST
@staff_view(*SENDERS)
def desk_route(request: HttpRequest, staff: Staff, handoff_id: int) -> HttpResponse:
    _desk(staff)
    agency_id = _int(request.POST.get("to_agency"))
    to_agency = Agency.objects.filter(pk=agency_id).first() if agency_id else None
    if to_agency is None:
        messages.error(request, _("つなぐ先の機関を選んでください。"))
        return redirect("relay:desk")
    try:
        routed = desks.handoff_route(
            staff=staff,
            handoff_id=handoff_id,
            to_agency=to_agency,
            message=request.POST.get("message", "")[:2000],
        )
    except ConsentDoesNotCover as exc:
        messages.error(request, str(exc))
    except (InvalidInput, IllegalTransition) as exc:
        messages.error(request, str(exc) or _("この引き継ぎは、いまはつなげません。"))
    else:
        if routed.status == Status.AWAITING_APPROVAL:
            messages.success(request, _("管理職の承認を待っています。承認されると送付されます。"))
        else:
            messages.success(request, _("%(agency)s へつなぎました。") % {"agency": to_agency.name})
    return redirect("relay:desk")


@require_POST
@staff_view(*SENDERS)
def desk_return(request: HttpRequest, staff: Staff, handoff_id: int) -> HttpResponse:
    _desk(staff)
    try:
        desks.handoff_return(
            staff=staff, handoff_id=handoff_id, note=request.POST.get("note", "")[:2000]
        )
    except (InvalidInput, IllegalTransition) as exc:
        messages.error(request, str(exc) or _("戻す理由を記入してください。"))
    else:
        messages.success(request, _("送付元へ戻しました。送付元に通知されます。"))
    return redirect("relay:desk")


@staff_view(*RECEIVERS)
def intake_detail(request: HttpRequest, staff: Staff, intake_id: int) -> HttpResponse:
    desk = _desk(staff)
    intake = desks.intake_view(staff=staff, intake_id=intake_id)
    return render(
        request,
        "relay/desk/intake.html",
        {
            "desk": desk,
            "intake": intake,
            "colleagues": desks.desk_colleagues(agency=staff.agency),
            "open": intake.status in OPEN_INTAKE,
            "can_make_sheet": staff.role in SENDERS and intake.status in OPEN_INTAKE,
            "can_assign": staff.role in RECEIVERS,
            "nearby": suggestions_for(
                desk=desk, person=Person(municipality=desk.municipality, prefecture=desk.prefecture)
            ),
        },
    )


@require_POST
@staff_view(*RECEIVERS)
def intake_assign(request: HttpRequest, staff: Staff, intake_id: int) -> HttpResponse:
    back = redirect("relay:intake-detail", intake_id)
    return _assign(request, staff, desks.intake_assign, back, intake_id=intake_id)


@require_POST
@staff_view(*SENDERS)
def intake_close(request: HttpRequest, staff: Staff, intake_id: int) -> HttpResponse:
    _desk(staff)
    try:
        desks.intake_close(staff=staff, intake_id=intake_id)
    except IllegalTransition:
        messages.error(request, _("この受付は終了できません。"))
    else:
        messages.success(request, _("受付を終了しました。"))
    return redirect("relay:desk")


def intake_to_sheet(staff: Staff, raw_id: str) -> IntakeRecord | None:
    """The intake record a new sheet is made for (?intake=<id>), if any: the desk's own and
    still open, else 404."""
    if not raw_id:
        return None
    intake_id = _int(raw_id)
    if intake_id is None:
        raise NotFound()
    intake = desks.intake_view(staff=staff, intake_id=intake_id)
    if intake.status not in OPEN_INTAKE:
        raise NotFound()
    return intake


def intake_sheet_initial(intake: IntakeRecord, staff: Staff) -> dict[str, Any]:
    return desks.intake_sheet_initial(intake, _desk(staff))
