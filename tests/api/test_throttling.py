"""Rate limits per API key (and per staff member), answered with 429 and Retry-After."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.helpers import assert_problem, bearer
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

WHOAMI = "/api/v1/whoami/"


@pytest.fixture
def two_per_minute(settings) -> None:
    """A rate of 2 requests a minute for the api_key scope."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "2/min"},
    }


def test_a_key_over_its_rate_gets_429_with_retry_after(api_client, issue_key, two_per_minute):
    """GIVEN a rate of 2/min WHEN a key makes a third request THEN 429 rate-limited."""
    _key, plaintext = issue_key()
    assert [api_client.get(WHOAMI, **bearer(plaintext)).status_code for _ in range(2)] == [200, 200]

    response = api_client.get(WHOAMI, HTTP_ACCEPT_LANGUAGE="en", **bearer(plaintext))

    body = assert_problem(response, status=429, slug="rate-limited")
    assert body["title"] == "Too many requests"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_each_key_and_each_user_has_its_own_allowance(api_client, issue_key, two_per_minute):
    (_, first), (_, second) = issue_key(), issue_key()
    for _ in range(2):
        api_client.get(WHOAMI, **bearer(first))
    assert api_client.get(WHOAMI, **bearer(first)).status_code == 429
    assert api_client.get(WHOAMI, **bearer(second)).status_code == 200

    staff = APIClient()
    staff.force_login(MembershipFactory().user)
    assert [staff.get(WHOAMI).status_code for _ in range(3)] == [200, 200, 429]
