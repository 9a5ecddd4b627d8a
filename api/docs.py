"""The schema and its Swagger UI: open to whoever is signed in (a person's session or an API
key), and to everyone only where API_DOCS_PUBLIC is set (the embedded demo's default).

The UI is drf-spectacular's split view: its start-up script is a separate request, so the
page runs under the site's Content-Security-Policy without inline scripts or styles.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class DocsAccess(BasePermission):
    """Anyone when API_DOCS_PUBLIC, else an authenticated caller (session or API key)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if getattr(settings, "API_DOCS_PUBLIC", False):
            return True
        user = request.user
        return bool(user is not None and user.is_authenticated) or request.auth is not None


class SchemaView(SpectacularAPIView):
    permission_classes = [DocsAccess]


class DocsView(SpectacularSwaggerSplitView):
    permission_classes = [DocsAccess]
    template_name = "api/swagger_ui.html"
