"""/healthz, /readyz and /metrics: answered by ops.middleware.OpsEndpointsMiddleware, first in
the stack, so no session, CSRF, login lockout, host check, HTTPS redirect or audit touches them.
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ops.health import run_checks
from ops.metrics import exposition

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _json(body: dict[str, object], status: int) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    """The process is alive and answers; touches nothing else."""
    return _json({"status": "ok"}, 200)


def readyz(request: HttpRequest) -> HttpResponse:
    """Database, migrations, cache and broker: 200 if all are ok, else 503 naming the failed."""
    checks = run_checks()
    failed = sorted(name for name, result in checks.items() if result == "failed")
    if failed or any(result != "ok" for result in checks.values()):
        return _json({"status": "unavailable", "failed": failed, "checks": checks}, 503)
    return _json({"status": "ok", "checks": checks}, 200)


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition, for a bearer of METRICS_TOKEN; 404 when no token is set."""
    token = settings.TSUNAGU.get("METRICS_TOKEN", "")
    if not token:
        return HttpResponse(status=404)
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=PROMETHEUS_CONTENT_TYPE)
