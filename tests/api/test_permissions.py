"""HasScope: API keys need the method's scope; staff sessions need a membership."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.helpers import assert_problem, bearer
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

SCOPED = "/api/test/scoped/"


@pytest.mark.parametrize(
    ("scopes", "method", "expected"),
    [
        (("handoffs:read",), "get", 200),
        (("handoffs:read",), "head", 200),
        (("handoffs:read",), "post", 403),
        (("handoffs:write",), "get", 403),
        (("handoffs:write",), "post", 201),
        (("sheets:read",), "delete", 204),  # declared as needing no scope
        (("handoffs:read", "handoffs:write"), "put", 403),  # undeclared: refused to keys
    ],
)
def test_api_keys_need_the_scope_declared_for_the_method(
    api_client, issue_key, scopes, method, expected
) -> None:
    _key, plaintext = issue_key(scopes=scopes)
    response = getattr(api_client, method)(SCOPED, **bearer(plaintext))
    if expected == 403:
        body = assert_problem(response, status=403, slug="insufficient-scope")
        assert body["detail"]
    else:
        assert response.status_code == expected


def test_missing_scope_names_the_scope_in_english_and_japanese(api_client, issue_key) -> None:
    _key, plaintext = issue_key(scopes=("handoffs:read",))
    en = api_client.post(SCOPED, HTTP_ACCEPT_LANGUAGE="en", **bearer(plaintext)).json()
    ja = api_client.post(SCOPED, HTTP_ACCEPT_LANGUAGE="ja", **bearer(plaintext)).json()
    assert en["detail"] == "This operation needs the scope handoffs:write."
    assert en["title"] == "Insufficient scope"
    assert ja["detail"] == "この操作にはスコープ handoffs:write が必要です。"


def test_staff_sessions_pass_scopes_but_need_a_membership() -> None:
    member, outsider = APIClient(), APIClient()
    member.force_login(MembershipFactory(role="viewer").user)
    outsider.force_login(UserFactory())

    assert member.get(SCOPED).status_code == 200
    assert member.put(SCOPED).status_code == 200  # the role is the workflow's question
    assert_problem(outsider.get(SCOPED), status=403, slug="forbidden")


def test_anonymous_gets_401_not_403(api_client) -> None:
    assert_problem(api_client.get(SCOPED), status=401, slug="not-authenticated")
