"""Consent: record it (or a lawful basis), print the form a family signs, withdraw it.

The sheet's owner records consent, and so does an agency that holds the sheet through a hop
(for the sections it holds): the person may be met, and consent, at the second agency. Each
record is printed, withdrawn or voided only by the agency that recorded it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.actors import CONSENT_RECORDERS, Staff
from agencies.errors import IllegalTransition, InvalidInput, NotAllowed
from agencies.models import Agency, AgencyKind, Role
from consent.models import ConsentRecord, Council, Grantor
from consent.vocabulary import SPECIAL_CARE_SECTIONS, Purpose, Section
from relay import access, services
from relay.forms import (
    CONSENT_FORM_VERSION,
    ConsentForm,
    EnteredInErrorForm,
    WithdrawConsentForm,
    end_of_day,
    last_valid_day,
    posted_list,
)
from relay.services.sheets import SheetView
from relay.views.base import staff_view
from relay.views.display import person_name
from relay.views.queries import suggest_recipients


def _agency_groups(selected: set[int], suggested: set[int]) -> list[tuple[str, list[Any]]]:
    """All agencies grouped by municipality, for the recipient picker."""
    groups: dict[str, list[Any]] = {}
    for agency in Agency.objects.order_by("municipality", "name"):
        if agency.pk in suggested:
            continue  # listed once, among the suggestions
        groups.setdefault(agency.municipality or "—", []).append(
            {"agency": agency, "checked": agency.pk in selected}
        )
    return list(groups.items())


def _selected_ids(form: ConsentForm) -> set[int]:
    raw = posted_list(form, "recipients") if form.is_bound else []
    return {int(v) for v in raw if v.isdigit()}


def _consent_context(
    form: ConsentForm, view: SheetView, staff: Staff, held: set[str]
) -> dict[str, Any]:
    suggestions = suggest_recipients(
        agencies=Agency.objects.exclude(pk=staff.agency.pk),
        content=view.content,
        sender=staff.agency,
    )
    suggested = {s.agency.pk for s in suggestions}
    selected = _selected_ids(form)
    sections = posted_list(form, "sections") if form.is_bound else []
    return {
        "form": form,
        "sheet": view.sheet,
        "is_owner": view.is_owner,
        "suggestions": [{"s": s, "checked": s.agency.pk in selected} for s in suggestions],
        "agency_groups": _agency_groups(selected, suggested),
        "section_options": [
            {
                "value": value,
                "label": label,
                "special": value in SPECIAL_CARE_SECTIONS,
                "checked": value in sections,
            }
            for value, label in Section.choices
            if value in held
        ],
    }


@staff_view(*CONSENT_RECORDERS)
def consent_new(request: HttpRequest, staff: Staff, sheet_id: int) -> HttpResponse:
    """Record consent on a sheet the agency owns or holds (then for the sections it holds)."""
    held = access.sheet_held_by(staff=staff, sheet_id=sheet_id).sections
    view = services.sheet_view(staff=staff, sheet_id=sheet_id, purpose="consent")
    form = ConsentForm(request.POST or None, request.FILES or None, sections=held)
    form.fields["council"].queryset = Council.objects.filter(  # type: ignore[attr-defined]
        municipality=staff.agency.municipality
    ).order_by("kind", "name")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        scope = {
            "staff": staff,
            "sheet_id": view.sheet.pk,
            "recipients": list(data["recipients"]),
            "recipient_kinds": data["recipient_kinds"],
            "sections": data["sections"],
            "purposes": data["purposes"],
            "valid_until": end_of_day(data["valid_until"]),
        }
        try:
            if form.is_lawful_basis:
                services.lawful_basis_record(
                    basis=data["basis"], reason=data["reason"], council=data["council"], **scope
                )
            else:
                services.consent_record(
                    grantors=data["grantors"],
                    method=data["method"],
                    decision=data["decision"],
                    child_assent=data["child_assent"],
                    obtained_at=form.obtained_at(),
                    explanation_version=CONSENT_FORM_VERSION,
                    scanned_form=data.get("scanned_form"),
                    routing_desk=data.get("routing_desk"),
                    routing_kinds=data.get("routing_kinds") or (),
                    **scope,
                )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        except NotAllowed:
            # Intake staff record the consent obtained at the counter; a lawful basis is a
            # counselor's or supervisor's.
            form.add_error("basis", _("法令上の根拠は相談員または管理職が記録します。"))
        else:
            if form.is_lawful_basis:
                messages.warning(
                    request,
                    _(
                        "法令上の根拠を記録しました。管理職が承認するまでは、"
                        "これにもとづいて送付することはできません。"
                    ),
                )
            else:
                messages.success(request, _("同意を記録しました。"))
            return redirect("relay:sheet-detail", view.sheet.pk)
    return render(
        request,
        "relay/consents/form.html",
        _consent_context(form, view, staff, held),
        status=400 if form.errors else 200,
    )


def _print_context(
    *,
    staff: Staff,
    sheet_id: int,
    recipients: list[Agency],
    kinds: list[str],
    sections: list[str],
    purposes: list[str],
    valid_until: Any,
    record: ConsentRecord | None,
    routing_desk: Agency | None = None,
    routing_kinds: list[str] | None = None,
) -> dict[str, Any]:
    explainer = record.obtained_by if record is not None else staff.user
    return {
        "routing_desk": routing_desk,
        "routing_kinds": [
            AgencyKind(k).label for k in routing_kinds or [] if k in AgencyKind.values
        ],
        "agency": staff.agency,
        "explainer": person_name(explainer),
        "sheet_id": sheet_id,
        "record": record,
        "recipients": recipients,
        "kinds": [AgencyKind(k).label for k in kinds if k in AgencyKind.values],
        "sections": [
            {"label": Section(s).label, "special": s in SPECIAL_CARE_SECTIONS}
            for s in Section.values
            if s in sections
        ],
        "purposes": [Purpose(p).label for p in Purpose.values if p in purposes],
        "valid_until": valid_until,
        "grantors": Grantor.choices,
        "form_version": CONSENT_FORM_VERSION,
        "today": timezone.localdate(),
    }


@staff_view(*CONSENT_RECORDERS)
def consent_print(request: HttpRequest, staff: Staff, record_id: int) -> HttpResponse:
    """The consent form of a recorded consent, for the person or guardian to read and sign."""
    record = access.consent_record_for(staff=staff, record_id=record_id)
    context = _print_context(
        staff=staff,
        sheet_id=record.sheet_id,
        recipients=list(record.recipient_agencies.all()),
        kinds=record.recipient_kinds,
        sections=record.sections,
        purposes=record.purposes,
        valid_until=last_valid_day(record.valid_until),
        record=record,
        routing_desk=record.routing_desk,
        routing_kinds=record.routing_kinds,
    )
    return render(request, "relay/consents/print.html", context)


@require_POST
@staff_view(*CONSENT_RECORDERS)
def consent_print_draft(request: HttpRequest, staff: Staff, sheet_id: int) -> HttpResponse:
    """The same form, pre-filled from the consent screen before anything is recorded."""
    held = access.sheet_held_by(staff=staff, sheet_id=sheet_id).sections
    form = ConsentForm(request.POST, sections=held)
    form.is_valid()  # only to parse what was chosen; nothing is saved
    data = form.cleaned_data
    recipient_ids = _selected_ids(form)
    context = _print_context(
        staff=staff,
        sheet_id=sheet_id,
        recipients=list(Agency.objects.filter(pk__in=recipient_ids).order_by("name")),
        kinds=request.POST.getlist("recipient_kinds"),
        sections=[s for s in request.POST.getlist("sections") if s in held],
        purposes=request.POST.getlist("purposes"),
        valid_until=data.get("valid_until"),
        record=None,
        routing_desk=data.get("routing_desk"),
        routing_kinds=request.POST.getlist("routing_kinds"),
    )
    return render(request, "relay/consents/print.html", context)


@staff_view(*CONSENT_RECORDERS)
def consent_withdraw(request: HttpRequest, staff: Staff, record_id: int) -> HttpResponse:
    record = access.consent_record_for(staff=staff, record_id=record_id)
    form = WithdrawConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            stopped = services.consent_withdraw(
                staff=staff,
                record_id=record.pk,
                via=form.cleaned_data["via"],
                reason=form.cleaned_data["reason"],
            )
        except IllegalTransition:
            messages.error(request, _("この同意記録は撤回できる状態ではありません。"))
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(
                request,
                _("同意の撤回を記録しました。引き継ぎ %(n)s 件を止めました。") % {"n": len(stopped)}
                if stopped
                else _("同意の撤回を記録しました。"),
            )
            return redirect("relay:sheet-detail", record.sheet_id)
    return render(
        request,
        "relay/consents/withdraw.html",
        {"form": form, "record": record, "open_hops": record.handoffs.count()},
        status=400 if form.errors else 200,
    )


@require_POST
@staff_view(Role.SUPERVISOR)
def consent_entered_in_error(request: HttpRequest, staff: Staff, record_id: int) -> HttpResponse:
    record = access.consent_record_for(staff=staff, record_id=record_id)
    form = EnteredInErrorForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("誤登録とする理由を記入してください。"))
    else:
        try:
            services.consent_mark_entered_in_error(
                staff=staff, record_id=record.pk, reason=form.cleaned_data["reason"]
            )
        except IllegalTransition:
            messages.error(request, _("この同意記録はすでに誤登録として取り消されています。"))
        else:
            messages.success(
                request, _("誤って登録した同意の記録を取り消しました。")
            )
    return redirect("relay:sheet-detail", record.sheet_id)
