"""schemathesis against the live schema: generated requests to every operation, with a valid
key and the demo network; no 5xx, and every response matches the schema (status, content
type, headers, body). Bounded to a few examples per operation (tests/profile.py: 50 in the
ci profile, fewer for a developer's `make test`)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
import schemathesis.checks
from hypothesis import HealthCheck, given, settings

from tests.api.live import LiveData, load_live_data
from tests.profile import PROFILE

MAX_EXAMPLES = PROFILE.schemathesis_examples  # 50 in the ci profile (tests/profile.py)
# A cursor is opaque: the schema cannot say which strings are one, so an arbitrary string is
# "schema-valid" and still rightly refused with 400. Every other check runs.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture
def live_data(transactional_db: None, settings: Any) -> LiveData:
    """The demo network with hops and keys; a rate limit schemathesis will not reach."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "100000/min"},
    }
    return load_live_data(settings, hops=3)


@pytest.fixture
def api_schema(live_server: Any, live_data: LiveData) -> Any:
    """The schema as the live server publishes it."""
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")


def _exercise(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=EXCLUDED_CHECKS)

    run()


def test_every_operation_matches_its_schema(api_schema: Any, live_data: LiveData) -> None:
    """GIVEN the live schema and a valid key WHEN schemathesis calls every operation
    THEN no 5xx and every response conforms. (Driven through Hypothesis directly:
    schemathesis' pytest loader does not run on pytest 9.)"""
    headers = {"Authorization": f"Bearer {live_data.npo_key}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 11
    for operation in operations:
        try:
            _exercise(operation, headers)
        except (Exception, BaseExceptionGroup) as error:  # every operation's, not the first
            failures[operation.label] = f"{type(error).__name__}: {error}"[:3000]
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
