"""What every screen shares: who is acting, and how domain errors become HTTP answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
from relay.branches import Branches

__all__ = ["Branches", "KeysetPage", "keyset_page", "paginate", "query_without_page", "staff_view"]

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
    """The current query string minus `page` (and the keyset cursors), for pagination links
    that keep the filters."""
    params = request.GET.copy()
    for key in ("page", "before", "after"):
        params.pop(key, None)
    return params.urlencode()


# A long list (the audit trail grows by millions of rows) is paged by id, never by OFFSET, and
# counted only up to a cap: the cost of a page is the page, not the table.
COUNT_CAP = 10_000


@dataclass(frozen=True)
class KeysetPage:
    """One page of a list ordered newest first (by descending id)."""

    rows: list[Any]
    newer: int | None  # ?after=<id> shows the page before this one, if there is one
    older: int | None  # ?before=<id> shows the page after this one
    count: int  # rows in the whole list, up to COUNT_CAP
    capped: bool  # the list holds more than COUNT_CAP rows

    @property
    def more_pages(self) -> bool:
        return self.newer is not None or self.older is not None


def _cursor(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


def keyset_page(request: HttpRequest, source: QuerySet[Any] | Branches, size: int) -> KeysetPage:
    """The page of `source` (newest first by id) that `?before=` / `?after=` point at: the
    newest rows when neither is given."""
    rows_of = source if isinstance(source, Branches) else Branches([source])
    before, after = _cursor(request.GET.get("before")), _cursor(request.GET.get("after"))
    if after is not None:
        rows = rows_of.filter(id__gt=after).oldest(size + 1)
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        has_older = bool(rows) and rows_of.filter(id__lt=rows[-1].pk).exists()
    else:
        window = rows_of if before is None else rows_of.filter(id__lt=before)
        rows = window.newest(size + 1)
        has_older = len(rows) > size
        rows = rows[:size]
        has_newer = bool(rows) and before is not None and rows_of.filter(id__gt=rows[0].pk).exists()
    counted = rows_of.count_upto(COUNT_CAP + 1)
    return KeysetPage(
        rows=rows,
        newer=rows[0].pk if has_newer else None,
        older=rows[-1].pk if has_older else None,
        count=min(counted, COUNT_CAP),
        capped=counted > COUNT_CAP,
    )
