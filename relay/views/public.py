"""A routing desk's public intake form: no sign-in, Japanese first, plain words, a phone's
width. Abuse limits: a per-IP rate in the shared cache, a honeypot, a bounded body; no CAPTCHA.
Nothing of a submission is shown back: the thank-you page has the desk's phone and hours only.
Logs and the audit trail name the intake by id."""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from agencies.errors import InvalidInput, NotFound
from agencies.models import RoutingDesk
from relay.intake_forms import PublicIntakeForm
from relay.services import desks

logger = logging.getLogger(__name__)

# When the shared cache is down the limit is kept per process (as the API's throttle does):
# the form keeps answering, and each process still refuses a flood.
_local = LocMemCache("tsunagu-intake-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
WINDOW_SECONDS = 3600


def _desk(slug: str) -> RoutingDesk:
    desk = (
        RoutingDesk.objects.select_related("agency")
        .filter(agency__slug=slug, public_intake=True)
        .first()
    )
    if desk is None:
        raise Http404()
    return desk


def _over_limit(request: HttpRequest) -> bool:
    """Count this POST against the client's address (REMOTE_ADDR, as the audit middleware and
    django-axes: X-Forwarded-For is forgeable); True past the hourly limit. The address is
    kept only as a hash in the cache key, for one window."""
    ip = request.META.get("REMOTE_ADDR") or "unknown"
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{ip}".encode()).hexdigest()[:24]
    key = f"public-intake:{digest}:{int(time.time()) // WINDOW_SECONDS}"
    limit = settings.PUBLIC_INTAKE_PER_HOUR
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS)
        count = cache.incr(key)
    except Exception:  # the shared cache is unreachable: fall back, never fail open
        logger.warning("public intake rate limit: shared cache unavailable, per-process limit")
        _local.add(key, 0, timeout=WINDOW_SECONDS)
        count = _local.incr(key)
    return count > limit


def _too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > settings.PUBLIC_INTAKE_MAX_BYTES


@never_cache
@csrf_protect
def intake_form(request: HttpRequest, slug: str) -> HttpResponse:
    desk = _desk(slug)
    context: dict[str, Any] = {"desk": desk, "agency": desk.agency}
    if request.method == "POST":
        if _too_large(request):
            return render(request, "relay/public/limit.html", context, status=413)
        if _over_limit(request):
            return render(request, "relay/public/limit.html", context, status=429)
        form = PublicIntakeForm(request.POST)
        if form.is_bot():
            # Looks like success to the bot; nothing is stored.
            logger.info("public intake: honeypot filled, desk %s", desk.agency_id)
            return redirect("relay:public-intake-thanks", slug)
        if form.is_valid():
            try:
                intake = desks.intake_submit(desk=desk, **form.submission())
            except NotFound as exc:
                raise Http404() from exc
            except InvalidInput as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                logger.info("public intake %s received for desk %s", intake.pk, desk.agency_id)
                return redirect("relay:public-intake-thanks", slug)
        context["form"] = form
        return render(request, "relay/public/intake.html", context, status=400)
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    context["form"] = PublicIntakeForm()
    return render(request, "relay/public/intake.html", context)


@never_cache
def intake_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    desk = _desk(slug)
    return render(request, "relay/public/thanks.html", {"desk": desk, "agency": desk.agency})
