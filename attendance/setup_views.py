"""The school's set-up screens (its 管理職 only): classes, staff posts, closure days; and the
municipality's early-response rules, read-only (they are edited in the admin, RuleSet)."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from agencies.actors import Staff
from agencies.errors import InvalidInput, NotFound
from attendance import access, selectors, services
from attendance.access import today
from attendance.calendar import school_year_of
from attendance.models import ClassType, SchoolRole
from attendance.rules import rules_for
from relay.views.base import staff_view


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


def _year(request: HttpRequest) -> int:
    return _int(request.GET.get("year") or request.POST.get("school_year")) or school_year_of(
        today()
    )


@staff_view()
def classes(request: HttpRequest, staff: Staff) -> HttpResponseBase:
    access.school_admin(staff)
    year = _year(request)
    if request.method == "POST":
        try:
            room = services.classroom_create(
                staff=staff,
                school_year=year,
                grade=_int(request.POST.get("grade")) or 0,
                name=request.POST.get("name", ""),
                class_type=request.POST.get("class_type") or ClassType.REGULAR,
            )
        except InvalidInput as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("%(room)s を追加しました。") % {"room": room})
            return redirect(f"{request.path}?year={year}")
    return render(
        request,
        "attendance/setup_classes.html",
        {
            "year": year,
            "rooms": selectors.setup_classrooms(school=staff.agency, school_year=year),
            "class_types": ClassType.choices,
        },
    )


@staff_view()
def posts(request: HttpRequest, staff: Staff) -> HttpResponseBase:
    access.school_admin(staff)
    year = _year(request)
    if request.method == "POST":
        try:
            if request.POST.get("remove"):
                services.post_remove(staff=staff, post_id=_int(request.POST.get("remove")) or 0)
                messages.success(request, _("分掌を外しました。"))
            else:
                user = (
                    get_user_model()
                    .objects.filter(
                        pk=_int(request.POST.get("user")) or 0, membership__agency=staff.agency
                    )
                    .first()
                )
                if user is None:
                    raise InvalidInput(_("職員を選んでください。"), field="user")
                room_id = _int(request.POST.get("classroom"))
                room = (
                    selectors.setup_classrooms(school=staff.agency).filter(pk=room_id).first()
                    if room_id
                    else None
                )
                services.post_assign(
                    staff=staff,
                    user=user,
                    role=request.POST.get("role", ""),
                    grade=_int(request.POST.get("grade")),
                    classroom=room,
                )
                messages.success(request, _("分掌を登録しました。"))
        except (InvalidInput, NotFound) as exc:
            messages.error(request, str(exc))
        else:
            return redirect(f"{request.path}?year={year}")
    return render(
        request,
        "attendance/setup_posts.html",
        {
            "year": year,
            "posts": selectors.setup_posts(school=staff.agency),
            "members": selectors.school_members(school=staff.agency),
            "rooms": selectors.setup_classrooms(school=staff.agency, school_year=year),
            "roles": SchoolRole.choices,
        },
    )


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


@staff_view()
def closures(request: HttpRequest, staff: Staff) -> HttpResponseBase:
    access.school_admin(staff)
    year = _year(request)
    if request.method == "POST":
        try:
            if request.POST.get("remove"):
                services.closure_remove(
                    staff=staff, closure_id=_int(request.POST.get("remove")) or 0
                )
                messages.success(request, _("休業日を削除しました。"))
            else:
                start = _date(request.POST.get("start"))
                if start is None:
                    raise InvalidInput(_("開始日を入力してください。"), field="start")
                end = _date(request.POST.get("end")) or start
                services.closure_add(
                    staff=staff, start=start, end=end, label=request.POST.get("label", "")
                )
                messages.success(
                    request,
                    _("休業日を登録しました。欠席の数え方と期限は、まもなく再計算されます。"),
                )
        except (InvalidInput, NotFound) as exc:
            messages.error(request, str(exc))
        else:
            return redirect(f"{request.path}?year={year}")
    return render(
        request,
        "attendance/setup_closures.html",
        {"year": year, "closures": selectors.setup_closures(school=staff.agency, school_year=year)},
    )


@staff_view()
def rules(request: HttpRequest, staff: Staff) -> HttpResponse:
    municipality = access.rules_reader(staff)
    config = rules_for(municipality)
    return render(
        request,
        "attendance/rules.html",
        {
            "municipality": municipality,
            "config": config,
            "rules": selectors.rules_table(config),
            "custom": selectors.has_own_rules(municipality),
        },
    )
