"""Case meeting screens: the list, convening one about a sheet, the record (form, agencies'
reports, plan and progress), and the review."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.actors import Staff
from agencies.errors import IllegalTransition, InvalidInput, NotFound
from agencies.models import Agency
from conferences import services
from conferences.models import ActionState, Area, ForWhom, GridColumn
from conferences.record import TEXT_FIELDS
from conferences.selectors import meetings_for, open_actions_for
from conferences.views.base import staff_view
from consent.models import ConsentRecord, ConsentStatus

# Errors a person can correct on the page; NotFound and NotAllowed stay 404 and 403.
FormError = (InvalidInput, IllegalTransition)


def _date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(_("日付を正しく入力してください。"), field=field) from exc


@staff_view()
def meeting_list(request: HttpRequest, staff: Staff) -> HttpResponse:
    return render(
        request,
        "conferences/meeting_list.html",
        {"meetings": meetings_for(staff=staff), "actions": open_actions_for(staff=staff)},
    )


@staff_view()
def meeting_new(request: HttpRequest, staff: Staff, sheet_id: int) -> HttpResponse:
    """Convene a meeting about a sheet the agency holds, under one of its records in force."""
    bases = list(
        ConsentRecord.objects.filter(
            sheet_id=sheet_id, sheet__owner_agency=staff.agency, status=ConsentStatus.ACTIVE
        ).order_by("-valid_from")
    )
    if not bases:
        raise NotFound()
    agencies = Agency.objects.exclude(pk=staff.agency.pk).order_by("name")
    error = ""
    if request.method == "POST":
        try:
            chosen = [int(v) for v in request.POST.getlist("participants") if v.isdigit()]
            seats = {
                a: request.POST.get(f"attendees-{a.pk}", "") for a in agencies if a.pk in chosen
            }
            meeting = services.meeting_create(
                staff=staff,
                basis_id=int(request.POST.get("basis", "0") or 0),
                held_on=_date(request.POST.get("held_on", ""), "held_on"),
                place=request.POST.get("place", ""),
                participants=seats,
                person_attended=bool(request.POST.get("person_attended")),
                guardian_attended=bool(request.POST.get("guardian_attended")),
            )
        except FormError as exc:
            error = str(exc)
        else:
            return redirect("conferences:meeting-detail", meeting.pk)
    return render(
        request,
        "conferences/meeting_new.html",
        {"sheet_id": sheet_id, "bases": bases, "agencies": agencies, "error": error},
        status=400 if error else 200,
    )


def _grid_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "area": area,
            "label": label,
            "cells": [
                {"column": column, "value": record.get("grid", {}).get(area, {}).get(column, "")}
                for column in GridColumn.values
            ],
        }
        for area, label in Area.choices
    ]


@staff_view()
def meeting_detail(request: HttpRequest, staff: Staff, meeting_id: int) -> HttpResponse:
    version = request.GET.get("version", "")
    view = services.meeting_view(
        staff=staff, meeting_id=meeting_id, version=int(version) if version.isdigit() else None
    )
    meeting = view.meeting
    return render(
        request,
        "conferences/meeting_detail.html",
        {
            "view": view,
            "meeting": meeting,
            "record": view.record,
            "grid": _grid_rows(view.record),
            "columns": GridColumn.choices,
            "is_organizer": meeting.organizer_id == staff.agency.pk,
            "my_report": next((r for r in view.reports if r.agency_id == staff.agency.pk), None),
            "for_whom": ForWhom.choices,
            "participant_agencies": [p.agency for p in view.participants],
            "staff_agency_id": staff.agency.pk,
            "open_state": ActionState.OPEN,
        },
    )


def _back(meeting_id: int) -> HttpResponse:
    return redirect("conferences:meeting-detail", meeting_id)


def _fail(request: HttpRequest, exc: Exception) -> None:
    messages.error(request, str(exc))


@require_POST
@staff_view()
def meeting_record(request: HttpRequest, staff: Staff, meeting_id: int) -> HttpResponse:
    content: dict[str, Any] = {name: request.POST.get(name, "") for name in TEXT_FIELDS}
    content["grid"] = {
        area: {col: request.POST.get(f"grid-{area}-{col}", "") for col in GridColumn.values}
        for area in Area.values
    }
    review = request.POST.get("next_review_on", "")
    try:
        services.meeting_record(
            staff=staff,
            meeting_id=meeting_id,
            content=content,
            next_review_on=_date(review, "next_review_on") if review else None,
        )
        messages.success(request, _("会議の記録を保存しました(新しい版)。"))
    except FormError as exc:
        _fail(request, exc)
    return _back(meeting_id)


@require_POST
@staff_view()
def report_write(request: HttpRequest, staff: Staff, meeting_id: int) -> HttpResponse:
    try:
        services.agency_report_write(
            staff=staff, meeting_id=meeting_id, text=request.POST.get("text", "")
        )
        messages.success(request, _("関係機関からの情報を保存しました。"))
    except FormError as exc:
        _fail(request, exc)
    return _back(meeting_id)


@require_POST
@staff_view()
def action_add(request: HttpRequest, staff: Staff, meeting_id: int) -> HttpResponse:
    owner = Agency.objects.filter(pk=int(request.POST.get("owner_agency", "0") or 0)).first()
    try:
        if owner is None:
            raise InvalidInput(_("担当機関を選んでください。"), field="owner_agency")
        services.plan_action_add(
            staff=staff,
            meeting_id=meeting_id,
            what=request.POST.get("what", ""),
            owner_agency=owner,
            owner_role=request.POST.get("owner_role", ""),
            due_on=_date(request.POST.get("due_on", ""), "due_on"),
            where=request.POST.get("where", ""),
            for_whom=request.POST.get("for_whom", ""),
            short_term_goal=request.POST.get("short_term_goal", ""),
        )
        messages.success(request, _("支援策を追加しました。"))
    except FormError as exc:
        _fail(request, exc)
    return _back(meeting_id)


@require_POST
@staff_view()
def action_progress(request: HttpRequest, staff: Staff, action_id: int) -> HttpResponse:
    action = services.action_meeting_id(staff=staff, action_id=action_id)
    try:
        if request.POST.get("state") in (ActionState.DONE, ActionState.DROPPED):
            services.action_set_state(staff=staff, action_id=action_id, state=request.POST["state"])
        else:
            services.action_progress_add(
                staff=staff, action_id=action_id, text=request.POST.get("text", "")
            )
        messages.success(request, _("経過・評価を記録しました。"))
    except FormError as exc:
        _fail(request, exc)
    return _back(action)


@staff_view()
def review_new(request: HttpRequest, staff: Staff, meeting_id: int) -> HttpResponse:
    """The review: each open action is done, continued, changed (a new date) or dropped."""
    view = services.meeting_view(staff=staff, meeting_id=meeting_id)
    open_actions = [a for a in view.actions if a.state == ActionState.OPEN]
    error = ""
    if request.method == "POST":
        try:
            decisions = {a.pk: request.POST.get(f"decision-{a.pk}", "") for a in open_actions}
            new_dates = {
                a.pk: _date(value, f"due-{a.pk}")
                for a in open_actions
                if (value := request.POST.get(f"due-{a.pk}", ""))
            }
            review = services.review_meeting_create(
                staff=staff,
                meeting_id=meeting_id,
                held_on=_date(request.POST.get("held_on", ""), "held_on"),
                decisions=decisions,
                new_due_on=new_dates,
            )
        except FormError as exc:
            error = str(exc)
        else:
            return redirect("conferences:meeting-detail", review.pk)
    return render(
        request,
        "conferences/review_new.html",
        {"meeting": view.meeting, "actions": open_actions, "error": error},
        status=400 if error else 200,
    )
