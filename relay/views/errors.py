"""Error pages in the site's layout, in every mode."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
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


class OwnErrorPages:
    """The site's own 404 and 403 pages for what views raise, in every mode.

    With DEBUG on (the embedded demo), Django answers a view's Http404 with its technical
    page, in English, listing every URL pattern. A person who opens another agency's
    handoff in the demo must see the same page as in production. /api/ answers problem
    documents of its own and is left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/"):
            return None
        if isinstance(exception, Http404):
            return not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return forbidden(request, exception)
        return None
