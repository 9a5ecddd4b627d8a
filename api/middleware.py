"""Under /api/, every error is a problem document, even the ones Django answers itself.

DRF's exception handler (api/problems.py) covers errors inside API views. This middleware sits
just inside the request-id middleware and covers the rest: a body larger than the API accepts
(refused from Content-Length, before anything reads it), an unknown path under /api/ (Django's
404), a CSRF refusal, a 500 from a middleware or a view, and a database, cache or broker that is
down (503 with Retry-After, whoever met it). Responses that already are problems pass through.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions

from api.degraded import is_infrastructure_error, warn_degraded
from api.parsers import max_body_bytes
from api.problems import (
    PROBLEM_CONTENT_TYPE,
    RequestTooLarge,
    ServerError,
    ServiceUnavailable,
    problem_response,
)

API_PREFIX = "/api/"
# Headers of Django's own error response that still mean something in the problem's.
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")
_EXCEPTION_ATTR = "_tsunagu_exception"

log = logging.getLogger(__name__)

_BY_STATUS: dict[int, Callable[[], BaseException]] = {
    400: exceptions.ParseError,
    401: exceptions.NotAuthenticated,
    403: exceptions.PermissionDenied,
    404: exceptions.NotFound,
    405: lambda: exceptions.MethodNotAllowed(""),
    413: RequestTooLarge,
    415: lambda: exceptions.UnsupportedMediaType(""),
    429: exceptions.Throttled,
    503: ServiceUnavailable,
}


@receiver(got_request_exception)
def _remember_exception(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Django is about to answer 500: keep the exception, to tell "down" (503) from "bug"."""
    if request is not None:
        setattr(request, _EXCEPTION_ATTR, sys.exc_info()[1])


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _problem_for(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    status = response.status_code
    if status >= 500:
        cause = getattr(request, _EXCEPTION_ATTR, None)
        down = status == 503 or is_infrastructure_error(cause)
        exc: BaseException = ServiceUnavailable() if down else ServerError()
        if isinstance(exc, ServiceUnavailable) and cause is not None:
            warn_degraded("api dependency", cause)
        return problem_response(request, exc)
    make = _BY_STATUS.get(status)
    exc = make() if make else exceptions.APIException()
    problem = problem_response(request, exc, status=status)
    for name in KEPT_HEADERS:
        if response.has_header(name) and not problem.has_header(name):
            problem[name] = response[name]
    return problem


class ApiProblemMiddleware:
    """Turns every error response under /api/ into application/problem+json."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if _content_length(request) > max_body_bytes():
            return problem_response(request, RequestTooLarge())
        response = self.get_response(request)
        if response.status_code < 400 or getattr(response, "streaming", False):
            return response
        if response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE):
            return response
        return _problem_for(request, response)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        """A view raised past DRF: answer the cases that are not bugs here."""
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, RequestDataTooBig):
            return problem_response(request, RequestTooLarge())
        if is_infrastructure_error(exception):
            warn_degraded("api dependency", exception)
            return problem_response(request, ServiceUnavailable())
        return None
