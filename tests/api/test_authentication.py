"""Who may call the API: bearer API keys, or staff sessions with CSRF; /whoami/ says who."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.keys import api_key_revoke
from api.models import APIKey
from api.principal import APIPrincipal, principal_actor, principal_agency
from audit.context import Actor, ActorKind
from tests.api.helpers import assert_problem, bearer, csrf_pair
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

WHOAMI = "/api/v1/whoami/"


@pytest.mark.parametrize(
    ("case", "slug"),
    [
        ("no key", "not-authenticated"),
        ("not bearer", "not-authenticated"),
        ("malformed", "authentication-failed"),
        ("two tokens", "authentication-failed"),
        ("not ascii", "authentication-failed"),
        ("wrong secret", "authentication-failed"),
        ("unknown prefix", "authentication-failed"),
        ("expired", "authentication-failed"),
        ("revoked", "authentication-failed"),
    ],
)
def test_whoami_refuses_bad_credentials_with_401(api_client, issue_key, system_actor, case, slug):
    """GIVEN credentials that are absent or unusable WHEN /whoami/ THEN a 401 problem."""
    key, plaintext = issue_key()
    secret = plaintext[13:]
    other = "B" if secret[0] != "B" else "C"
    headers = {
        "no key": {},
        "not bearer": {"HTTP_AUTHORIZATION": f"Token {plaintext}"},
        "malformed": bearer("tsk_abc"),
        "two tokens": {"HTTP_AUTHORIZATION": f"Bearer {plaintext} extra"},
        "not ascii": {
            "HTTP_AUTHORIZATION": "Bearer tsk_ひらがなひらがな_x".encode().decode("latin-1")
        },
        "wrong secret": bearer(plaintext[:13] + other + secret[1:]),
        "unknown prefix": bearer("tsk_ZZZZZZZZ_" + secret),
        "expired": bearer(plaintext),
        "revoked": bearer(plaintext),
    }[case]
    if case == "expired":
        APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    if case == "revoked":
        api_key_revoke(key=key, actor=system_actor)

    response = api_client.get(WHOAMI, **headers)

    assert_problem(response, status=401, slug=slug)
    assert response["WWW-Authenticate"].startswith("Bearer")
    if slug == "authentication-failed":
        assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_expired_and_revoked_keys_say_so(api_client, issue_key, system_actor) -> None:
    key, plaintext = issue_key()
    APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = api_client.get(WHOAMI, HTTP_ACCEPT_LANGUAGE="en", **bearer(plaintext)).json()
    assert expired["detail"] == "The API key has expired."
    api_key_revoke(key=key, actor=system_actor)
    revoked = api_client.get(WHOAMI, HTTP_ACCEPT_LANGUAGE="ja", **bearer(plaintext)).json()
    assert revoked["detail"] == "APIキーは失効しています。"


def test_whoami_with_a_valid_key_names_the_agency_and_scopes(api_client, issue_key, agency):
    """GIVEN a valid key WHEN /whoami/ THEN 200 with the agency, kind and scopes; use recorded."""
    key, plaintext = issue_key(scopes=("handoffs:write", "handoffs:read"))

    response = api_client.get(WHOAMI, **bearer(plaintext))

    assert response.status_code == 200
    assert response.json() == {
        "kind": "api_client",
        "agency": {"slug": "free-school-hikari", "name": "フリースクールひかり"},
        "scopes": ["handoffs:read", "handoffs:write"],
        "key": {"prefix": key.prefix, "name": "partner system", "expires_at": None},
        "role": None,
    }
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_whoami_with_a_session_names_the_staff_members_agency() -> None:
    membership = MembershipFactory(role="intake")
    client = APIClient()
    client.force_login(membership.user)

    body = client.get(WHOAMI).json()

    assert body["kind"] == "user" and body["role"] == "intake" and body["key"] is None
    assert body["agency"]["slug"] == membership.agency.slug
    assert "handoffs:write" in body["scopes"]


def test_whoami_with_a_session_outside_any_agency_has_no_agency() -> None:
    client = APIClient()
    client.force_login(UserFactory())
    body = client.get(WHOAMI).json()
    assert body["agency"] is None and body["scopes"] == [] and body["role"] is None


@pytest.mark.urls("tests.api.urls")
def test_session_post_needs_a_csrf_token() -> None:
    """GIVEN a logged-in staff member WHEN they POST without the CSRF token THEN 403."""
    membership = MembershipFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(membership.user)

    refused = client.post("/api/test/scoped/", {}, format="json")
    body = assert_problem(refused, status=403, slug="forbidden")
    assert "CSRF" in body["detail"]

    cookie_name, token = csrf_pair()
    client.cookies[cookie_name] = token
    accepted = client.post("/api/test/scoped/", {}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


@pytest.mark.urls("tests.api.urls")
def test_api_keys_need_no_csrf_token(issue_key) -> None:
    _key, plaintext = issue_key(scopes=("handoffs:write",))
    client = APIClient(enforce_csrf_checks=True)
    assert (
        client.post("/api/test/scoped/", {}, format="json", **bearer(plaintext)).status_code == 201
    )


def test_principal_helpers_answer_for_keys_and_users(issue_key, agency, rf) -> None:
    key, _ = issue_key()
    request = rf.get("/")
    request.user = APIPrincipal(key)
    assert principal_agency(request) == agency
    assert principal_actor(request) == Actor(
        kind=ActorKind.API_CLIENT, agency_id=agency.pk, api_key_id=key.pk, label=f"api:{key.prefix}"
    )
    assert request.user.has_scope("handoffs:read") and not request.user.has_scope("sheets:read")

    membership = MembershipFactory()
    request.user = membership.user
    assert principal_agency(request) == membership.agency
    actor = principal_actor(request)
    assert (actor.kind, actor.user_id, actor.agency_id) == (
        ActorKind.USER,
        membership.user.pk,
        membership.agency_id,
    )

    request.user = UserFactory()
    assert principal_agency(request) is None
