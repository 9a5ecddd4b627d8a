"""Send: choose recipients (with suggestions) and sections, see whether consent covers each,
and submit: one hop per recipient, to the supervisor's queue or straight out.

The coverage preview asks consent.policy.decide, the rule the send asks (through `permits`)
inside its transaction; the preview only informs, the send decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.actors import SENDERS, Staff
from agencies.errors import ConsentDoesNotCover, DuplicateHandoff, InvalidInput, WorkflowError
from agencies.models import Agency, Role
from consent.policy import PolicyDecision, Sender, consent_records, decide
from consent.vocabulary import SPECIAL_CARE_SECTIONS, Purpose, Section
from relay import access, services
from relay.forms import SendForm, posted_list
from relay.models import ReferralSheet
from relay.services.sheets import SheetView
from relay.states import Status
from relay.views.base import staff_view
from relay.views.queries import (
    consented_recipients,
    consented_sections,
    open_hops_to,
    suggest_recipients,
)


@dataclass(frozen=True)
class Coverage:
    """Whether consent covers one recipient: overall, and section by section."""

    agency: Agency
    allowed: bool
    message: str
    cells: list[tuple[str, bool]]


def sender_of(staff: Staff, sheet: ReferralSheet) -> Sender:
    """The sending agency as the policy sees it: a sheet it does not own it holds through a
    hop it received (the send links to that hop), so a routing desk's choice can count."""
    owns = sheet.owner_agency_id == staff.agency.pk
    return Sender(agency_id=staff.agency.pk, owns_sheet=owns, received_by_hop=not owns)


def coverage_for(
    *,
    sheet_id: int,
    recipients: list[Agency],
    sections: list[str],
    purpose: str,
    sender: Sender | None = None,
) -> list[Coverage]:
    """The policy's answer for each recipient and each section: the sheet's consent records
    are loaded once, and every cell is decided in memory by the same rule as the send."""
    now = timezone.now()
    records = consent_records(sheet_id=sheet_id)

    def ask(agency: Agency, wanted: list[str]) -> PolicyDecision:
        return decide(
            records=records,
            recipient=agency,
            sections=wanted,
            purpose=purpose,
            at=now,
            sender=sender,
        )

    rows = []
    for agency in recipients:
        overall = ask(agency, sections)
        cells = [(section, bool(ask(agency, [section]))) for section in sections]
        rows.append(
            Coverage(agency=agency, allowed=bool(overall), message=overall.message, cells=cells)
        )
    return rows


def _recipients_queryset(staff: Staff) -> QuerySet[Agency]:
    return Agency.objects.filter(accepts_referrals=True).exclude(pk=staff.agency.pk)


def _readable_sheet(staff: Staff, sheet_id: int) -> tuple[ReferralSheet, list[str]]:
    """The sheet and the sections the agency can pass on; 404 if it cannot see the sheet."""
    readable = access.sheet_for(staff=staff, sheet_id=sheet_id)
    return readable.sheet, [s for s in Section.values if s in readable.sections]


def _parse_choice(request: HttpRequest, staff: Staff, readable: list[str]) -> dict[str, Any]:
    ids = [int(v) for v in request.POST.getlist("recipients") if v.isdigit()]
    purpose = request.POST.get("purpose") or Purpose.SUPPORT
    if purpose not in Purpose.values:
        purpose = Purpose.SUPPORT
    return {
        "recipients": list(_recipients_queryset(staff).filter(pk__in=ids).order_by("name")),
        "sections": [s for s in request.POST.getlist("sections") if s in readable],
        "purpose": purpose,
    }


def _send_context(
    *,
    staff: Staff,
    view: SheetView,
    form: SendForm,
    readable: list[str],
    coverage: list[Coverage] | None,
    parent_id: int | None,
) -> dict[str, Any]:
    agencies = _recipients_queryset(staff)
    consented = consented_recipients(sheet_id=view.sheet.pk)
    open_hops = open_hops_to(sheet_id=view.sheet.pk, from_agency=staff.agency)
    if form.is_bound:
        selected = {int(v) for v in posted_list(form, "recipients") if v.isdigit()}
        chosen_sections = set(posted_list(form, "sections"))
    else:
        # The counselor chose the recipients once already, with the family, in the consent:
        # those named are ticked, except where a hop to them is still under way.
        selected = consented - set(open_hops)
        chosen_sections = set(form.initial.get("sections", []))
    named = list(agencies.filter(pk__in=consented).order_by("municipality", "name"))
    suggestions = suggest_recipients(
        agencies=agencies.exclude(pk__in=consented), content=view.content, sender=staff.agency
    )
    listed = {a.pk for a in named} | {s.agency.pk for s in suggestions}
    groups: dict[str, list[dict[str, Any]]] = {}
    for agency in agencies.order_by("municipality", "name"):
        if agency.pk in listed:
            continue
        groups.setdefault(agency.municipality or "—", []).append(
            {"agency": agency, "checked": agency.pk in selected}
        )
    return {
        "sheet": view.sheet,
        "view": view,
        "form": form,
        "parent_id": parent_id,
        "consented": [
            {"agency": a, "checked": a.pk in selected, "open_hop": open_hops.get(a.pk)}
            for a in named
        ],
        "suggestions": [{"s": s, "checked": s.agency.pk in selected} for s in suggestions],
        "agency_groups": list(groups.items()),
        "section_options": [
            {
                "value": s,
                "label": Section(s).label,
                "special": s in SPECIAL_CARE_SECTIONS,
                "checked": s in chosen_sections,
            }
            for s in readable
        ],
        "coverage": coverage,
        "coverage_sections": form.cleaned_data.get("sections", [])
        if form.is_bound and hasattr(form, "cleaned_data")
        else [],
        "needs_approval": staff.agency.requires_supervisor_approval
        and staff.role != Role.SUPERVISOR,
    }


@staff_view(*SENDERS)
def send(request: HttpRequest, staff: Staff, sheet_id: int) -> HttpResponse:
    view = services.sheet_view(staff=staff, sheet_id=sheet_id, purpose="send")
    readable = view.sections
    parent = request.POST.get("parent") or request.GET.get("parent") or ""
    parent_id = int(parent) if parent.isdigit() else None
    agencies = _recipients_queryset(staff)
    if request.method != "POST":
        defaults = [s for s in consented_sections(sheet_id=view.sheet.pk) if s in readable]
        form = SendForm(agencies=agencies, readable=readable, initial={"sections": defaults})
        ctx = _send_context(
            staff=staff, view=view, form=form, readable=readable, coverage=None, parent_id=parent_id
        )
        return render(request, "relay/send/form.html", ctx)

    form = SendForm(request.POST, agencies=agencies, readable=readable)
    coverage = None
    if form.is_valid():
        recipients = list(form.cleaned_data["recipients"])
        sections = form.cleaned_data["sections"]
        purpose = form.cleaned_data["purpose"]
        coverage = coverage_for(
            sheet_id=view.sheet.pk,
            recipients=recipients,
            sections=sections,
            purpose=purpose,
            sender=sender_of(staff, view.sheet),
        )
        blocked = [c for c in coverage if not c.allowed]
        if blocked:
            form.add_error(
                None,
                _(
                    "同意の範囲外の送付先があるため、送付できません。下の表で理由を確認してください。"
                ),
            )
        else:
            return _submit_all(request, staff, view.sheet, form.cleaned_data, parent_id)
    ctx = _send_context(
        staff=staff, view=view, form=form, readable=readable, coverage=coverage, parent_id=parent_id
    )
    return render(request, "relay/send/form.html", ctx, status=400)


def _submit_all(
    request: HttpRequest,
    staff: Staff,
    sheet: ReferralSheet,
    data: dict[str, Any],
    parent_id: int | None,
) -> HttpResponse:
    """One hop per recipient, each created and submitted in one transaction of its own: a
    refused send leaves no draft behind."""
    for agency in data["recipients"]:
        try:
            hop = services.handoff_relay(
                staff=staff,
                sheet_id=sheet.pk,
                to_agency=agency,
                sections=data["sections"],
                purpose=data["purpose"],
                message=data["message"],
                parent_id=parent_id,
                deliberate=bool(data.get("deliberate")),
            )
        except DuplicateHandoff as exc:
            existing = exc.context.get("handoff_id")
            messages.error(
                request,
                _("%(agency)s へは送付しませんでした: %(reason)s")
                % {"agency": agency.name, "reason": exc}
                + (_("(進行中の引き継ぎ #%(id)s)") % {"id": existing} if existing else ""),
            )
        except ConsentDoesNotCover as exc:
            messages.error(
                request,
                _("%(agency)s へは送付できませんでした: %(reason)s")
                % {"agency": agency.name, "reason": exc},
            )
        except (InvalidInput, WorkflowError) as exc:
            messages.error(
                request,
                _("%(agency)s へは送付できませんでした: %(reason)s")
                % {"agency": agency.name, "reason": exc},
            )
        else:
            if hop.status == Status.AWAITING_APPROVAL:
                messages.info(
                    request,
                    _("%(agency)s への送付(引き継ぎ #%(id)s)を管理職に依頼しました。")
                    % {"agency": agency.name, "id": hop.pk},
                )
            else:
                messages.success(
                    request,
                    _("%(agency)s へ引き継ぎ #%(id)s を送付しました。")
                    % {"agency": agency.name, "id": hop.pk},
                )
    return redirect("relay:sheet-detail", sheet.pk)


@require_POST
@staff_view(*SENDERS)
def send_check(request: HttpRequest, staff: Staff, sheet_id: int) -> HttpResponse:
    """htmx partial: the coverage table for the recipients and sections chosen so far."""
    sheet, readable = _readable_sheet(staff, sheet_id)
    choice = _parse_choice(request, staff, readable)
    coverage = (
        coverage_for(sheet_id=sheet.pk, sender=sender_of(staff, sheet), **choice)
        if choice["recipients"] and choice["sections"]
        else None
    )
    return render(
        request,
        "relay/send/_coverage.html",
        {"coverage": coverage, "sections": choice["sections"], "checked": True},
    )
