"""Per-method scopes for API keys; staff sessions pass on scope but need an agency.

    class HandoffListView(APIView):
        permission_classes = [HasScope]
        required_scopes = {"GET": "handoffs:read", "POST": "handoffs:write"}

A method missing from `required_scopes` is refused to API keys (fail closed); HEAD and OPTIONS
fall back to GET. A value of None means "authenticated is enough". What a staff member may do
is decided by their role in the workflow's services, not here.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from api.language import bilingual
from api.principal import APIPrincipal, user_membership
from api.problems import InsufficientScope
from api.scopes import ALL_SCOPES


def required_scope(view: Any, method: str) -> tuple[bool, str | None]:
    """(declared, scope) for `method`: whether the view declares it, and the scope it needs."""
    declared = getattr(view, "required_scopes", None)
    if declared is None:
        raise ImproperlyConfigured(f"{type(view).__name__} uses HasScope without required_scopes")
    for candidate in (method, "GET") if method in ("HEAD", "OPTIONS") else (method,):
        if candidate in declared:
            scope = declared[candidate]
            if scope is not None and scope not in ALL_SCOPES:
                raise ImproperlyConfigured(f"{type(view).__name__}: unknown scope {scope!r}")
            return True, scope
    return False, None


class HasScope(BasePermission):
    """API keys need the view's scope for the method; sessions need a membership."""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False  # DRF answers 401 (NotAuthenticated)
        declared, scope = required_scope(view, request.method)
        if isinstance(user, APIPrincipal):
            if not declared:
                raise InsufficientScope(
                    bilingual(
                        f"{request.method} はAPIキーでは利用できません。",
                        f"{request.method} is not available to API keys here.",
                    )
                )
            if scope is not None and not user.has_scope(scope):
                raise InsufficientScope(
                    bilingual(
                        f"この操作にはスコープ {scope} が必要です。",
                        f"This operation needs the scope {scope}.",
                    )
                )
            return True
        if user_membership(user) is None:
            raise PermissionDenied(
                bilingual(
                    "機関に所属していないアカウントでは利用できません。",
                    "This account does not belong to an agency.",
                ),
                code="no_membership",
            )
        return True
