"""The acting staff member of a conferences screen, and domain errors as HTTP answers (the
same rule as relay's screens: missing and forbidden are both 404; refusals are recorded)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _

from agencies.actors import Staff
from agencies.errors import NotAllowed, NotFound
from agencies.models import Role
from notifications.refusals import refusal_record

View = Callable[..., HttpResponseBase]


def staff_view(*roles: Role) -> Callable[[View], View]:
    """Log-in required; the view gets the acting Staff; NotFound is 404, NotAllowed 403."""

    def decorate(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                staff = Staff.for_user(request.user)
            except NotAllowed as exc:
                raise PermissionDenied(_("所属する機関が登録されていません。")) from exc
            if roles and staff.role not in roles:
                _refused(staff, view, kwargs, "web.role", 403)
                raise PermissionDenied(_("この画面を使う権限がありません。"))
            try:
                return view(request, staff, *args, **kwargs)
            except NotFound as exc:
                _refused(staff, view, kwargs, "web.not_found", 404)
                raise Http404(str(exc)) from exc
            except NotAllowed as exc:
                _refused(staff, view, kwargs, "web.not_allowed", 403)
                raise PermissionDenied(str(exc)) from exc

        return wrapper

    return decorate


def _refused(staff: Staff, view: View, kwargs: dict[str, Any], reason: str, status: int) -> None:
    key, value = next(iter(kwargs.items()), ("", None))
    refusal_record(
        actor=staff.audit_actor(),
        reason=reason,
        object_type=(key.removesuffix("_id") if key.endswith("_id") else view.__name__)[:64],
        object_id=None if value is None else str(value),
        status=status,
    )
