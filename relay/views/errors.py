"""Error pages in the site's layout (used when DEBUG is off)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "relay/errors/404.html", status=404)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception else ""
    return render(request, "relay/errors/403.html", {"message": message}, status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "relay/errors/500.html", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "relay/errors/403_csrf.html", status=403)
