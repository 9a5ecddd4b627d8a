"""The operator endpoints, and one structured log line (plus metrics) per request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from ops import views
from ops.metrics import observe_request

log = logging.getLogger("tsunagu.request")

ENDPOINTS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": views.healthz,
    "/readyz": views.readyz,
    "/metrics": views.metrics,
}


class OpsEndpointsMiddleware:
    """First in MIDDLEWARE: answers GET /healthz, /readyz and /metrics and nothing else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        endpoint = ENDPOINTS.get(request.path_info.rstrip("/") or "/")
        if endpoint is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        return endpoint(request)


def _actor(request: HttpRequest) -> tuple[str, int | None]:
    """(actor kind, agency id) from what the request already loaded: never a query, so a
    log line costs nothing and works with the database down."""
    user: Any = getattr(request, "user", None)
    if user is None:
        return "anonymous", None
    if getattr(user, "_wrapped", None) is empty:  # a lazy user nobody looked at
        return "unknown", None
    user = getattr(user, "_wrapped", user)
    key = getattr(user, "key", None)
    if key is not None and hasattr(key, "agency_id"):  # api.principal.APIPrincipal
        return "api_client", key.agency_id
    if not getattr(user, "is_authenticated", False):
        return "anonymous", None
    membership = getattr(getattr(user, "_state", None), "fields_cache", {}).get("membership")
    return "user", getattr(membership, "agency_id", None)


class RequestLogMiddleware:
    """After the request id is set: logs route, status, duration, actor kind and agency id;
    never the query string, a body or a name."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        route = f"/{match.route}" if match is not None and match.route else "unmatched"
        actor_kind, agency_id = _actor(request)
        observe_request(
            route=route, method=request.method or "", status=response.status_code, seconds=seconds
        )
        log.info(
            "%s %s %s",
            request.method,
            route,
            response.status_code,
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
                "actor_kind": actor_kind,
                "agency_id": agency_id,
            },
        )
        return response
