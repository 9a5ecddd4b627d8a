"""The school's screens: class entry, CSV upload, a pupil, an action, the dashboard; and
the ward's aggregated counts. Missing and forbidden are both 404 (relay's staff_view)."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from agencies.actors import Staff
from agencies.errors import IllegalTransition, InvalidInput, NotAllowed, NotFound
from attendance import access, importing, selectors, services
from attendance.access import school_staff, today
from attendance.calendar import school_year_of
from attendance.models import AttendanceRecord, EarlyAction, Mark, PupilYear, SchoolRole
from attendance.record import CHECKLISTS, SITUATION_FIELDS, SPECIAL_CARE_TRAITS
from audit.models import AuditAction
from audit.services import audit_record
from csvexport import csv_response
from relay.choices import AbsenceReason
from relay.views.base import staff_view


def _day(value: str | None) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return today()


@staff_view()
def home(request: HttpRequest, staff: Staff) -> HttpResponse:
    try:
        me: access.SchoolStaff | None = school_staff(staff)
    except NotAllowed:
        # A school's supervisor with no post yet: the home only leads to the set-up.
        if access.school_admin(staff) is not None:
            raise
        me = None
    rooms = access.classrooms_for(me) if me is not None else []
    admin = me is None or SchoolRole.PRINCIPAL in me.roles
    return render(request, "attendance/home.html", {"rooms": rooms, "me": me, "admin": admin})


@staff_view()
def entry(request: HttpRequest, staff: Staff, classroom_id: int) -> HttpResponseBase:
    me = school_staff(staff)
    room = access.classroom_for(me, classroom_id)
    day = _day(request.POST.get("day") or request.GET.get("day"))
    enrolments = list(room.enrolments.select_related("pupil").order_by("number"))
    if request.method == "POST":
        marks = {
            e.pupil_id: (
                request.POST.get(f"mark-{e.pupil_id}", ""),
                request.POST.get(f"reason-{e.pupil_id}", ""),
            )
            for e in enrolments
        }
        try:
            result = services.attendance_enter(
                staff=staff, classroom_id=room.pk, day=day, marks=marks
            )
        except InvalidInput as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("%(day)s の出欠を保存しました(新規 %(c)d 件、変更 %(u)d 件)。")
                % {"day": day.isoformat(), "c": result.created, "u": result.updated},
            )
            return redirect(f"{request.path}?day={day.isoformat()}")
    current = dict(
        (r.pupil_id, r)
        for r in AttendanceRecord.objects.filter(
            pupil__in=[e.pupil_id for e in enrolments], day=day
        )
    )
    rows = [(e, current.get(e.pupil_id)) for e in enrolments]
    return render(
        request,
        "attendance/entry.html",
        {
            "room": room,
            "day": day,
            "rows": rows,
            "marks": Mark.choices,
            "reasons": AbsenceReason.choices,
        },
    )


@staff_view()
def upload(request: HttpRequest, staff: Staff) -> HttpResponseBase:
    me = school_staff(staff)
    if not me.whole_school:
        # A file covers the whole school: the school's support team imports it.
        raise NotAllowed()
    errors: list[importing.RowError] = []
    upload_file = request.FILES.get("file")
    if request.method == "POST" and upload_file is not None:
        data = upload_file.read()
        parsed = importing.parse(data, school=staff.agency)
        skip = request.POST.get("skip_invalid") == "on"
        errors = parsed.errors
        if errors and not skip:
            messages.error(request, _("取り込めない行があります。何も保存していません。"))
        else:
            result = services.attendance_import(
                school=staff.agency,
                entries=parsed.entries,
                actor=staff.audit_actor(),
                user=staff.person,
                rejected=len(errors),
            )
            messages.success(
                request,
                _(
                    "取り込みました(新規 %(c)d 件、変更 %(u)d 件、"
                    "変更なし %(n)d 件、除外 %(e)d 件)。"
                )
                % {
                    "c": result.created,
                    "u": result.updated,
                    "n": result.unchanged,
                    "e": len(errors),
                },
            )
            if not errors:
                return redirect("attendance:upload")
    return render(request, "attendance/upload.html", {"errors": errors[:200], "me": me})


@staff_view()
def pupil(request: HttpRequest, staff: Staff, pupil_id: int) -> HttpResponse:
    me = school_staff(staff)
    found = access.pupil_for(me, pupil_id)
    year = school_year_of(today())
    with transaction.atomic():
        audit_record(
            action=AuditAction.PUPIL_VIEWED,
            actor=staff.audit_actor(),
            object_type="pupil",
            object_id=found.pk,
        )
    return render(
        request,
        "attendance/pupil.html",
        {
            "pupil": found,
            "year": PupilYear.objects.filter(pupil=found, school_year=year).first(),
            "summary": services.attendance_summary(found, on=today()),
            "actions": found.actions.filter(school_year=year).order_by("-triggered_on", "-id"),
            "records": found.records.filter(mark=Mark.ABSENT).order_by("-day")[:60],
        },
    )


@staff_view()
def action(request: HttpRequest, staff: Staff, action_id: int) -> HttpResponseBase:
    me = school_staff(staff)
    row = EarlyAction.objects.filter(pk=action_id, school_id=me.school_id).first()
    if row is None:
        raise NotFound()
    access.pupil_for(me, row.pupil_id)
    if request.method == "POST":
        try:
            if request.POST.get("skip"):
                services.action_skip(
                    staff=staff, action_id=row.pk, reason=request.POST.get("skip_reason", "")
                )
            else:
                services.action_complete(
                    staff=staff,
                    action_id=row.pk,
                    checklist=request.POST.dict(),
                    note=request.POST.get("note", ""),
                )
        except (InvalidInput, IllegalTransition) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("対応を記録しました。"))
            return redirect("attendance:pupil", row.pupil_id)
    return render(
        request,
        "attendance/action.html",
        {
            "action": row,
            "fields": CHECKLISTS[row.kind],
            "referral": row.kind in services.REFERRAL_KINDS,
        },
    )


@staff_view()
def referral(request: HttpRequest, staff: Staff, action_id: int) -> HttpResponseBase:
    me = school_staff(staff)
    row = EarlyAction.objects.filter(pk=action_id, school_id=me.school_id).first()
    if row is None:
        raise NotFound()
    found = access.pupil_for(me, row.pupil_id)
    if request.method == "POST":
        data = {
            f.name: request.POST.getlist(f.name)
            if f.type == "multi"
            else request.POST.get(f.name, "")
            for f in SITUATION_FIELDS
        }
        try:
            drafted = services.referral_draft(
                staff=staff,
                action_id=row.pk,
                situation=data,
                consultation=request.POST.get("consultation", ""),
            )
        except (InvalidInput, IllegalTransition) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("相談シートを下書きしました。同意を記録し、管理職の承認を経て送付します。"),
            )
            return redirect("relay:sheet-detail", drafted.sheet_id)
    return render(
        request,
        "attendance/referral.html",
        {
            "action": row,
            "pupil": found,
            "summary": services.attendance_summary(found, on=today()),
            "fields": SITUATION_FIELDS,
            "special_care": SPECIAL_CARE_TRAITS,
        },
    )


@staff_view()
def dashboard(request: HttpRequest, staff: Staff) -> HttpResponse:
    me = access.school_leader(staff)
    board = selectors.dashboard_for(me, on=_day(request.GET.get("on")))
    return render(request, "attendance/dashboard.html", {"board": board, "today": today()})


@staff_view()
def ward(request: HttpRequest, staff: Staff) -> HttpResponse:
    municipality = access.ward_for(staff)
    year = school_year_of(today())
    rows = selectors.ward_counts(municipality=municipality, school_year=year)
    with transaction.atomic():
        audit_record(
            action=AuditAction.ATTENDANCE_REPORT_VIEWED,
            actor=staff.audit_actor(),
            object_type="municipality",
            detail={"school_year": year, "schools": len(rows)},
        )
    return render(
        request,
        "attendance/ward.html",
        {
            "rows": rows,
            "labels": list(selectors.THRESHOLD_LABELS.values()),
            "municipality": municipality,
            "year": year,
            "month": today().strftime("%Y-%m"),
        },
    )


@staff_view()
def ward_monthly(request: HttpRequest, staff: Staff) -> HttpResponseBase:
    municipality = access.ward_for(staff)
    try:
        month = date.fromisoformat((request.GET.get("month") or "") + "-01")
    except ValueError:
        month = today().replace(day=1)
    rows = selectors.monthly_rows(municipality=municipality, month=month)
    with transaction.atomic():
        audit_record(
            action=AuditAction.ATTENDANCE_REPORT_EXPORTED,
            actor=staff.audit_actor(),
            object_type="municipality",
            detail={"month": month.strftime("%Y-%m"), "schools": len(rows)},
        )
    return csv_response(
        f"absence-report-{month.strftime('%Y-%m')}.csv", selectors.MONTHLY_HEADER, rows
    )
