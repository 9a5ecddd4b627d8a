"""Supervisor screens: the approval queue, the audit log, provision records and metrics.

Exports go through relay.services.exports (audited before the first byte is streamed) and
the one CSV writer (csvexport).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies import sessions
from agencies.actors import Staff
from agencies.errors import IllegalTransition, InvalidInput
from agencies.models import Agency, Role
from agencies.sessions import reauth_required
from audit.models import AuditAction, AuditEvent
from audit.verification import stored_status
from consent.vocabulary import Purpose
from csvexport import csv_response
from relay import services
from relay.forms import AuditFilterForm, BasisDecisionForm, PeriodForm, ProvisionFilterForm
from relay.provision import ProvisionQuery, basis_text, provision_records
from relay.reports import (
    OUTCOME_COLUMNS,
    audit_event_branches,
    metrics,
)
from relay.services.exports import audit_log_export, provision_records_export
from relay.states import DeclineReason, Status
from relay.views.base import Branches, keyset_page, query_without_page, staff_view
from relay.views.charts import bar_chart
from relay.views.display import action_label, section_label

# --- Approval queue -------------------------------------------------------------------------


@require_POST
@reauth_required
@staff_view(Role.SUPERVISOR)
def basis_decide(request: HttpRequest, staff: Staff, record_id: int) -> HttpResponse:
    form = BasisDecisionForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("relay:approvals")
    approve = form.cleaned_data["decision"] == "approve"
    try:
        record = services.lawful_basis_decide(
            staff=staff, record_id=record_id, approve=approve, note=form.cleaned_data["note"]
        )
    except IllegalTransition:
        messages.error(request, _("この記録はすでに判断済みです。"))
    except InvalidInput as exc:
        messages.error(request, str(exc))
    else:
        if approve:
            messages.success(
                request,
                _("シート #%(id)s の法令上の根拠を承認しました。") % {"id": record.sheet_id},
            )
        else:
            messages.warning(
                request,
                _("シート #%(id)s の法令上の根拠を却下しました。") % {"id": record.sheet_id},
            )
    return redirect("relay:approvals")


# --- Audit log ------------------------------------------------------------------------------


def _audit_filter(form: AuditFilterForm) -> Q:
    """The filters of the audit screen and its CSV, as one condition."""
    start, end = form.bounds()
    condition = Q(occurred_at__gte=start, occurred_at__lt=end)
    data = form.cleaned_data if form.is_valid() else {}
    if data.get("actor"):
        condition &= Q(actor_label=data["actor"])
    if data.get("agency"):
        agency_id = data["agency"].pk
        condition &= Q(actor_agency_id=agency_id) | Q(recipient_agency_id=agency_id)
    if data.get("action"):
        condition &= Q(action=data["action"])
    if data.get("sheet"):
        condition &= Q(sheet_id=data["sheet"])
    return condition


def _filtered_events(staff: Staff, form: AuditFilterForm) -> Branches:
    """What the audit page lists and its CSV exports: the agency's branches, filtered."""
    return Branches(audit_event_branches(agency=staff.agency)).filter(_audit_filter(form))


def _filters_for_audit(form: AuditFilterForm) -> dict[str, Any]:
    start, end = form.bounds()
    data = form.cleaned_data if form.is_valid() else {}
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "actor": data.get("actor") or "",
        "agency_id": data["agency"].pk if data.get("agency") else None,
        "action": data.get("action") or "",
        "sheet_id": data.get("sheet"),
    }


def chain_status() -> dict[str, Any] | None:
    """The stored outcome of the last verification (beat, every minute): never a walk here."""
    status = stored_status()
    if status is None:
        return None
    return {
        "ok": status.ok,
        "count": status.count,
        "last_id": status.last_id,
        "broken_id": status.broken_id,
        "reason": status.reason,
        "checked_at": status.checked_at,
        "full": status.full,
    }


class _Agencies:
    """Agency names by id, loaded once per page."""

    def __init__(self, ids: Iterable[int | None]) -> None:
        wanted = {i for i in ids if i}
        self.names = dict(Agency.objects.filter(pk__in=wanted).values_list("pk", "name"))

    def name(self, agency_id: int | None) -> str:
        return self.names.get(agency_id or 0, "")


def _actor_text(event: AuditEvent, staff: Staff, agencies: _Agencies) -> str:
    """Usernames of the supervisor's own agency; other agencies by name only."""
    if event.actor_kind == "system":
        return _("システム") + (f"({event.actor_label})" if event.actor_label else "")
    agency = agencies.name(event.actor_agency_id)
    if event.actor_agency_id == staff.agency.pk or event.actor_agency_id is None:
        label = event.actor_label or "—"
        return f"{label}({agency})" if agency else label
    if event.actor_kind == "api_client":
        return _("%(agency)s(API)") % {"agency": agency}
    return agency


@staff_view(Role.SUPERVISOR)
def audit_log(request: HttpRequest, staff: Staff) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    page = keyset_page(request, _filtered_events(staff, form), size=50)
    agencies = _Agencies(
        [e.actor_agency_id for e in page.rows] + [e.recipient_agency_id for e in page.rows]
    )
    rows = [
        {
            "event": e,
            "action": action_label(e.action, e.detail),
            "actor": _actor_text(e, staff, agencies),
            "recipient": agencies.name(e.recipient_agency_id),
            "sections": [section_label(s) for s in e.sections],
        }
        for e in page.rows
    ]
    start, end = form.bounds()
    return render(
        request,
        "relay/supervisor/audit_log.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "qs": query_without_page(request),
            "chain": chain_status(),
            "start": start,
            "end": end,
        },
    )


@reauth_required
@staff_view(Role.SUPERVISOR)
def audit_export(request: HttpRequest, staff: Staff) -> HttpResponseBase:
    form = AuditFilterForm(request.GET or None)
    export = audit_log_export(
        staff=staff,
        events=_filtered_events(staff, form),
        filters=_filters_for_audit(form),
        sheet_id=form.cleaned_data.get("sheet") if form.is_valid() else None,
    )
    labels = dict(AuditAction.choices)

    def rows() -> Iterator[list[Any]]:
        for chunk in export.chunks:
            agencies = _Agencies(
                [e.actor_agency_id for e in chunk] + [e.recipient_agency_id for e in chunk]
            )
            for e in chunk:
                yield [
                    e.pk,
                    timezone.localtime(e.occurred_at).isoformat(),
                    e.action,
                    labels.get(e.action, e.action),
                    e.actor_kind,
                    _actor_text(e, staff, agencies),
                    e.object_type,
                    e.object_id,
                    e.sheet_id or "",
                    agencies.name(e.recipient_agency_id),
                    " ".join(e.sections),
                    e.lawful_basis,
                    e.request_id,
                    e.hash,
                ]

    header = [
        "id",
        "occurred_at",
        "action",
        "action_label",
        "actor_kind",
        "actor",
        "object_type",
        "object_id",
        "sheet_id",
        "recipient_agency",
        "sections",
        "lawful_basis",
        "request_id",
        "hash",
    ]
    return csv_response(export.filename, header, rows())


# --- Provision records ----------------------------------------------------------------------


@staff_view(Role.SUPERVISOR)
def provision_report(request: HttpRequest, staff: Staff) -> HttpResponseBase:
    form = ProvisionFilterForm(request.GET or None, default_days=90)
    start, end = form.bounds()
    direction = (form.cleaned_data.get("direction") if form.is_valid() else "") or "both"
    query = ProvisionQuery(start=start, end=end, agency=staff.agency, direction=direction)
    if request.GET.get("format") == "csv":
        if not sessions.reauth_fresh(request):
            return sessions.reauth_redirect(request)
        export = provision_records_export(query=query, actor=staff.audit_actor())
        return csv_response(export.filename, export.header, export.rows)
    records = provision_records(query)
    return render(
        request,
        "relay/supervisor/provision_records.html",
        {
            "form": form,
            "records": [
                {
                    "r": r,
                    "sections": [section_label(s) for s in r.sections],
                    "basis": basis_text(r),
                    "purpose": Purpose(r.purpose).label,
                    "status": Status(r.status).label,
                }
                for r in records
            ],
            "start": start,
            "end": end,
            "qs": request.GET.urlencode(),
        },
    )


# --- Metrics --------------------------------------------------------------------------------


@staff_view(Role.SUPERVISOR)
def metrics_page(request: HttpRequest, staff: Staff) -> HttpResponse:
    form = PeriodForm(request.GET or None, default_days=84)
    start, end = form.bounds()
    figures = metrics(agency=staff.agency, start=start, end=end)
    status_labels = dict(Status.choices)
    decline_labels = dict(DeclineReason.choices)
    return render(
        request,
        "relay/supervisor/metrics.html",
        {
            "form": form,
            "m": figures,
            "start": start,
            "end": end,
            "ack_chart": bar_chart(
                [(a.agency, [a.median_hours, a.p90_hours]) for a in figures.ack_times],
                unit="h",
                series_css=("", "p90"),
                decimals=1,
            ),
            "state_chart": bar_chart([(str(status_labels[s]), [n]) for s, n in figures.by_state]),
            "escalation_chart": bar_chart(
                [(w.strftime("%m/%d〜"), [n]) for w, n in figures.escalations_per_week],
                series_css=("warn",),
            ),
            "decline_chart": bar_chart(
                [(str(decline_labels[r]), [n]) for r, n in figures.declines_by_reason],
                series_css=("danger",),
            ),
            "status_labels": status_labels,
            "decline_labels": decline_labels,
            "outcome_columns": OUTCOME_COLUMNS,
            "outcome_tables": [figures.outcomes_by_kind, figures.outcomes_by_agency],
        },
    )
