"""What every screen shares: who is acting, and how domain errors become HTTP answers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _

from agencies.actors import Staff
from agencies.errors import NotAllowed, NotFound
from agencies.models import Role
from audit.context import Actor, ActorKind
from notifications.refusals import refusal_record

PAGE_SIZE = 25

View = Callable[..., HttpResponseBase]


def staff_view(*roles: Role) -> Callable[[View], View]:
    """Log-in required; the view gets the acting Staff; domain errors become 404 and 403.

    A missing object and one the agency may not see are both 404 (the services raise NotFound
    for both); a role that may not act is 403. Without roles, any member of an agency may enter.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                staff = Staff.for_user(request.user)
            except NotAllowed as exc:
                _refused(request, None, view, kwargs, "web.no_agency", 403)
                raise PermissionDenied(_("所属する機関が登録されていません。")) from exc
            if roles and staff.role not in roles:
                _refused(request, staff, view, kwargs, "web.role", 403)
                raise PermissionDenied(_("この画面を使う権限がありません。"))
            try:
                return view(request, staff, *args, **kwargs)
            except NotFound as exc:
                _refused(request, staff, view, kwargs, "web.not_found", 404)
                raise Http404(str(exc)) from exc
            except NotAllowed as exc:
                _refused(request, staff, view, kwargs, "web.not_allowed", 403)
                raise PermissionDenied(str(exc)) from exc

        return wrapper

    return decorate


def _refused(
    request: HttpRequest,
    staff: Staff | None,
    view: View,
    kwargs: dict[str, Any],
    reason: str,
    status: int,
) -> None:
    """Put a refusal on record (counted per actor, reason and minute: notifications.refusals).
    Called after the service's transaction has rolled back, so the record stays."""
    user = request.user
    actor = (
        staff.audit_actor()
        if staff is not None
        else Actor(kind=ActorKind.USER, user_id=user.pk, label=user.get_username())
    )
    # The object is the URL's first id ("handoff_id" -> handoff), else the screen's name.
    key, value = next(iter(kwargs.items()), ("", None))
    refusal_record(
        actor=actor,
        reason=reason,
        object_type=(key.removesuffix("_id") if key.endswith("_id") else view.__name__)[:64],
        object_id=None if value is None else str(value),
        status=status,
    )


def paginate(
    request: HttpRequest, queryset: QuerySet[Any] | list[Any], size: int = PAGE_SIZE
) -> Page:
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current query string minus `page`, for pagination links that keep the filters."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()
