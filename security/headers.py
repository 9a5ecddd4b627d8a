"""Response headers every answer gets: Permissions-Policy, and ``Cache-Control: no-store``
on whatever may carry personal data (every page or file for a signed-in person, every API
answer), so neither a shared browser's cache nor a proxy keeps a copy of a sheet.

The Content-Security-Policy itself comes from django-csp (settings.CONTENT_SECURITY_POLICY);
Referrer-Policy, nosniff and X-Frame-Options from Django's SecurityMiddleware.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

# Paths whose every answer may carry personal data, whoever asks (API keys included).
PRIVATE_PREFIXES = ("/api/", "/admin/")


def carries_personal_data(request: HttpRequest) -> bool:
    """A signed-in person's request, or the API/admin: its answer is never cached."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return True
    return request.path.startswith(PRIVATE_PREFIXES)


class SecurityHeadersMiddleware:
    """Adds Permissions-Policy everywhere and no-store where personal data may be."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = policy
        if carries_personal_data(request):
            patch_cache_control(response, no_store=True, private=True)
            if "max-age" in response.get("Cache-Control", ""):
                response["Cache-Control"] = "no-store, private"
        return response
