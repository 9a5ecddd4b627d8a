"""ETags from (pk, version) and If-Match: 412 when the client saw another version."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from api.etag import etag_for
from tests.api.helpers import assert_problem, bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

URL = "/api/test/versioned/"


def test_etag_is_strong_and_made_of_pk_and_version() -> None:
    assert etag_for(SimpleNamespace(pk=12, version=4)) == '"12-4"'


@pytest.mark.parametrize(
    ("if_match", "expected"),
    [
        (None, 200),
        ('"7-3"', 200),
        ('"7-2", "7-3"', 200),
        ("*", 200),
        ('"7-2"', 412),
        ('W/"7-3"', 412),  # If-Match compares strongly
        ("garbage", 412),
    ],
)
def test_if_match_must_name_the_current_version(api_client, issue_key, if_match, expected):
    _key, plaintext = issue_key()
    headers = bearer(plaintext)
    fetched = api_client.get(URL, **headers)
    assert fetched["ETag"] == '"7-3"'
    if if_match is not None:
        headers["HTTP_IF_MATCH"] = if_match

    response = api_client.put(URL, {}, format="json", HTTP_ACCEPT_LANGUAGE="en", **headers)

    if expected == 412:
        body = assert_problem(response, status=412, slug="precondition-failed")
        assert body["title"] == "Precondition failed"
    else:
        assert response.status_code == 200


def test_an_endpoint_may_require_if_match(api_client, issue_key) -> None:
    _key, plaintext = issue_key()
    response = api_client.put(URL + "?strict=1", {}, format="json", **bearer(plaintext))
    assert_problem(response, status=428, slug="precondition-required")
