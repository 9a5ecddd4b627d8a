"""Council screens (協議会): the list, recording a council, and one council with its member
agencies and their periods. The coordinating agency's supervisors and administrators manage
it; its members read it; anyone else gets 404."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.actors import Staff
from agencies.errors import InvalidInput, NotAllowed, NotFound
from agencies.models import Agency, Role
from audit.context import Actor
from conferences import selectors, services
from consent.models import COUNCIL_PURPOSES, CouncilKind
from consent.vocabulary import Purpose
from duework.business_time import TOKYO
from notifications.refusals import refusal_record


class Viewer:
    """Who opens a council screen: a staff member (with an agency), an administrator, or
    both (a superuser who also belongs to an agency)."""

    def __init__(self, request: HttpRequest) -> None:
        user = request.user
        membership = getattr(user, "membership", None)
        self.staff: Staff | None = Staff.for_user(user) if membership is not None else None
        self.admin: Any = user if getattr(user, "is_superuser", False) else None
        if self.staff is None and self.admin is None:
            raise PermissionDenied(_("所属する機関が登録されていません。"))

    @property
    def agency(self) -> Agency | None:
        return self.staff.agency if self.staff else None

    @property
    def is_admin(self) -> bool:
        return self.admin is not None

    @property
    def may_create(self) -> bool:
        return self.is_admin or (self.staff is not None and self.staff.role == Role.SUPERVISOR)

    def actor(self) -> Actor:
        if self.staff is not None:
            return self.staff.audit_actor()
        return services.CouncilEditor.of(admin=self.admin).actor

    def editor_kwargs(self) -> dict[str, Any]:
        """Acting as an administrator where the person is one, else as staff."""
        return {"admin": self.admin} if self.admin is not None else {"staff": self.staff}


CouncilView = Callable[..., HttpResponseBase]


def council_view(view: CouncilView) -> CouncilView:
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        viewer = Viewer(request)
        try:
            return view(request, viewer, *args, **kwargs)
        except (NotFound, NotAllowed) as exc:
            status = 404 if isinstance(exc, NotFound) else 403
            refusal_record(
                actor=viewer.actor(),
                reason="web.not_found" if status == 404 else "web.not_allowed",
                object_type="council",
                object_id=str(kwargs.get("council_id", "")) or None,
                status=status,
            )
            if status == 404:
                raise Http404(str(exc)) from exc
            raise PermissionDenied(str(exc)) from exc

    return wrapper


def _day(value: str, field: str, *, end: bool = False) -> datetime | None:
    """A date typed on the form as a moment in Tokyo: a start date at 0:00 that day, an end
    date (the last day, inclusive) at 0:00 the next day; blank: None."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(_("日付を正しく入力してください。"), field=field) from exc
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(0, 0), tzinfo=TOKYO)


def _purpose_choices() -> list[tuple[str, str]]:
    return [(p.value, str(p.label)) for p in Purpose if p.value in COUNCIL_PURPOSES]


@council_view
def council_list(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """The councils the person sees, and (for supervisors and administrators) the form that
    records a new one coordinated by their agency (an administrator names the agency)."""
    now = timezone.now()
    error = ""
    if request.method == "POST":
        if not viewer.may_create:
            raise NotAllowed()
        try:
            coordinator = None
            if viewer.is_admin:
                coordinator = Agency.objects.filter(
                    slug=request.POST.get("coordinating_agency", "")
                ).first() or (viewer.agency if viewer.agency else None)
            council = services.council_create(
                **viewer.editor_kwargs(),
                kind=request.POST.get("kind", ""),
                name=request.POST.get("name", ""),
                members=[],
                coordinating_agency=coordinator,
                valid_from=_day(request.POST.get("valid_from", ""), "valid_from"),
                valid_until=_day(request.POST.get("valid_until", ""), "valid_until", end=True),
                purposes=request.POST.getlist("purposes"),
            )
        except InvalidInput as exc:
            error = str(exc)
        else:
            messages.success(request, _("協議会を登録しました。構成機関を追加してください。"))
            return redirect("conferences:council-detail", council.pk)
    return render(
        request,
        "conferences/council_list.html",
        {
            "councils": selectors.councils_for(
                agency=viewer.agency, is_admin=viewer.is_admin, now=now
            ),
            "may_create": viewer.may_create,
            "is_admin": viewer.is_admin,
            "kinds": CouncilKind.choices,
            "purposes": _purpose_choices(),
            "my_agency_id": viewer.agency.pk if viewer.agency else None,
            "now": now,
            "error": error,
        },
        status=400 if error else 200,
    )


@council_view
def council_detail(request: HttpRequest, viewer: Viewer, council_id: int) -> HttpResponse:
    now = timezone.now()
    council = selectors.council_for(
        agency=viewer.agency, is_admin=viewer.is_admin, council_id=council_id, now=now
    )
    manages = viewer.is_admin or (
        viewer.staff is not None
        and viewer.staff.role == Role.SUPERVISOR
        and council.coordinating_agency_id == viewer.staff.agency.pk
    )
    members = selectors.council_members(council)
    seated = {m.agency_id for m in members if m.in_force_at(now)}
    candidates = (
        Agency.objects.filter(municipality=council.municipality)
        .exclude(pk__in=seated | {council.coordinating_agency_id})
        .order_by("name")[:500]
        if manages
        else []
    )
    return render(
        request,
        "conferences/council_detail.html",
        {
            "council": council,
            "members": [(m, m.in_force_at(now)) for m in members],
            "manages": manages,
            "in_force": council.in_force_at(now),
            "candidates": candidates,
            "purpose_labels": dict(_purpose_choices()),
        },
    )


def _manage(request: HttpRequest, council_id: int, change: Callable[[], Any], done: str) -> Any:
    try:
        change()
    except InvalidInput as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("conferences:council-detail", council_id)


@require_POST
@council_view
def council_member_add(request: HttpRequest, viewer: Viewer, council_id: int) -> HttpResponse:
    agency = request.POST.get("agency", "")
    return _manage(
        request,
        council_id,
        lambda: services.council_member_add(
            **viewer.editor_kwargs(),
            council_id=council_id,
            agency_id=int(agency) if agency.isdigit() else 0,
            valid_from=_day(request.POST.get("valid_from", ""), "valid_from"),
            valid_until=_day(request.POST.get("valid_until", ""), "valid_until", end=True),
        ),
        _("構成機関を追加しました。"),
    )


@require_POST
@council_view
def council_member_end(
    request: HttpRequest, viewer: Viewer, council_id: int, agency_id: int
) -> HttpResponse:
    return _manage(
        request,
        council_id,
        lambda: services.council_member_end(
            **viewer.editor_kwargs(),
            council_id=council_id,
            agency_id=agency_id,
            at=_day(request.POST.get("at", ""), "at", end=True),
        ),
        _("構成機関の参加を終了しました。"),
    )


@require_POST
@council_view
def council_end(request: HttpRequest, viewer: Viewer, council_id: int) -> HttpResponse:
    return _manage(
        request,
        council_id,
        lambda: services.council_end(
            **viewer.editor_kwargs(),
            council_id=council_id,
            at=_day(request.POST.get("at", ""), "at", end=True),
        ),
        _("協議会の有効期間を終了しました。"),
    )
