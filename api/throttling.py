"""Rate limits per API key (or per staff member for sessions), shared through the cache.

When the shared cache is unreachable, the limit is kept per process instead (a LocMemCache):
the API keeps answering, each process still refuses a runaway client, and the outage is logged
once a minute (api/degraded.py). With N web processes a client may then make up to N times
its rate until the cache returns; that is the price of not failing closed on a partner.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from api.degraded import INFRASTRUCTURE_ERRORS, warn_degraded
from api.principal import principal_id

# One per process; bounded like any LocMemCache (culls past MAX_ENTRIES).
_local_cache = LocMemCache("tsunagu-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
# After a failure the shared cache is left alone this long, so that an outage costs each
# request nothing (not a connection attempt, not a timeout).
RECHECK_SECONDS = 5.0
_shared_down_until = 0.0


class APIKeyRateThrottle(SimpleRateThrottle):
    """REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"] per key, per user, or per IP."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        # Read at request time, not import time (DRF's default), so settings overrides apply.
        try:
            rate = api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(f"no rate set for throttle scope {self.scope!r}") from None
        if rate is not None and not isinstance(rate, str):
            raise ImproperlyConfigured(f"throttle rate {self.scope!r} must be like '600/min'")
        return rate

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        # Several keys of one agency each get the full rate: a key is one partner system.
        ident = principal_id(request) or f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Any, view: Any) -> bool:
        global _shared_down_until
        if time.monotonic() >= _shared_down_until:
            try:
                return super().allow_request(request, view)
            except INFRASTRUCTURE_ERRORS as exc:
                warn_degraded("rate-limit cache", exc)
                _shared_down_until = time.monotonic() + RECHECK_SECONDS
        self.cache = _local_cache
        return super().allow_request(request, view)


def reset_fallback() -> None:
    """Forget a cache outage and the local counters (tests)."""
    global _shared_down_until
    _shared_down_until = 0.0
    _local_cache.clear()
