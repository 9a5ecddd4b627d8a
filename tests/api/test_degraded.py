"""With the cache down the API keeps answering: the rate limit falls back to a per-process
counter (still a limit), and the outage is logged once a minute, not once per request."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from api import throttling
from api.degraded import reset_warnings, warn_degraded
from tests.api.helpers import assert_problem, bearer
from tests.notifications.support import free_port

pytestmark = pytest.mark.django_db

WHOAMI = "/api/v1/whoami/"


@pytest.fixture
def cache_down(settings) -> Iterator[None]:
    """The shared cache points at a port where no Redis listens; a rate of 2/min."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "2/min"},
    }
    throttling.reset_fallback()
    reset_warnings()
    yield
    throttling.reset_fallback()
    reset_warnings()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Overrides tests/api/conftest.py's cache.clear(): the cache here is down on purpose."""


def test_the_api_answers_and_still_limits_when_the_cache_is_down(
    api_client, issue_key, cache_down, caplog
) -> None:
    """GIVEN the cache is unreachable WHEN a key makes three requests at 2/min THEN 200, 200,
    then 429 from the local counter; one warning in the log for the three requests."""
    _key, plaintext = issue_key()
    caplog.set_level(logging.WARNING, logger="tsunagu.degraded")

    answers = [api_client.get(WHOAMI, **bearer(plaintext)) for _ in range(3)]

    assert [r.status_code for r in answers[:2]] == [200, 200]
    assert_problem(answers[2], status=429, slug="rate-limited")
    warnings = [r for r in caplog.records if "rate-limit cache unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert "127.0.0.1" not in warnings[0].getMessage()  # no connection details


def test_the_outage_warning_repeats_at_most_once_a_minute(caplog) -> None:
    reset_warnings()
    caplog.set_level(logging.WARNING, logger="tsunagu.degraded")
    error = ConnectionError("refused")
    logged = [warn_degraded("cache", error, now=t) for t in (0.0, 1.0, 59.0, 60.5, 61.0)]
    assert logged == [True, False, False, True, False]
    assert warn_degraded("broker", error, now=1.0)  # each subsystem has its own minute
    reset_warnings()
