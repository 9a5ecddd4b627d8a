"""Endpoints of the API's own plumbing; the workflow's endpoints live in their own modules."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.language import bilingual
from api.principal import APIPrincipal, user_membership
from api.scopes import ALL_SCOPES
from api.serializers import WhoAmISerializer


class WhoAmIView(APIView):
    """Who the API sees for these credentials: for partners to check a key before using it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=WhoAmISerializer, operation_id="whoami")
    def get(self, request: Request) -> Response:
        user = request.user
        if isinstance(user, APIPrincipal):
            agency, key = user.agency, user.key
            data: dict[str, Any] = {
                "kind": "api_client",
                "scopes": sorted(user.scopes),
                "key": {"prefix": key.prefix, "name": key.name, "expires_at": key.expires_at},
                "role": None,
            }
        else:
            membership = user_membership(user)
            agency = membership.agency if membership else None
            data = {
                "kind": "user",
                # Sessions pass every scope check; the role decides in the workflow's services.
                "scopes": sorted(ALL_SCOPES) if membership else [],
                "key": None,
                "role": membership.role if membership else None,
            }
        data["agency"] = {"slug": agency.slug, "name": agency.name} if agency else None
        return Response(WhoAmISerializer(data).data)


@extend_schema(exclude=True)
class NotFoundView(APIView):
    """Any other path under the API: a not-found problem, not Django's HTML 404 page."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        path = request.path_info
        if settings.APPEND_SLASH and not path.endswith("/") and _resolves_elsewhere(f"{path}/"):
            raise NotFound(
                bilingual(
                    "URLの末尾に / が必要です。", "This URL needs a trailing slash (/) at the end."
                )
            )
        raise NotFound()


def _resolves_elsewhere(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return getattr(match.func, "view_class", None) is not NotFoundView
