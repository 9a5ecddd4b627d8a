"""Rate limits per API key (or per staff member for sessions), shared through the cache."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from api.principal import principal_id


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
