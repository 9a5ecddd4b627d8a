"""Every API error is an RFC 9457 problem, titled in the language the client asked for."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from api.problems import ProblemType, problem_type_for, register_problem
from tests.api.helpers import assert_problem, bearer
from tests.api.urls import ConsentNotCovering, SectionNotShared

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]


@pytest.fixture
def key_client(api_client, issue_key) -> APIClient:
    """A client authenticated with a read-only key."""
    _key, plaintext = issue_key()
    api_client.credentials(**bearer(plaintext))
    return api_client


def test_validation_errors_list_every_field_with_its_dotted_path(key_client) -> None:
    """GIVEN nested invalid input WHEN posted THEN 400 with one entry per error and its path."""
    response = key_client.post(
        "/api/test/validate/",
        {
            "title": "far too long a title",
            "sections": ["school", "home", "diary"],
            "person": {"age": 130},
            "contacts": [{"age": 3}, {"age": -1}],
        },
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    body = assert_problem(response, status=400, slug="validation-error")
    assert body["title"] == "Validation failed"
    by_field = {error["field"]: error for error in body["errors"]}
    assert sorted(by_field) == ["contacts.1.age", "person.age", "sections.2", "title"]
    assert by_field["sections.2"]["code"] == "invalid_choice"
    assert by_field["person.age"]["code"] == "max_value"
    assert by_field["title"]["code"] == "max_length"
    assert all(error["message"] for error in body["errors"])


def test_errors_about_the_whole_object_have_no_field(key_client) -> None:
    response = key_client.post(
        "/api/test/validate/",
        {"title": "reject", "sections": [], "person": {"age": 9}},
        format="json",
    )
    body = assert_problem(response, status=400, slug="validation-error")
    assert body["errors"] == [
        {"field": None, "message": "the sheet as a whole is refused", "code": "refused"}
    ]


def test_a_missing_required_field_is_reported_by_name(key_client) -> None:
    body = key_client.post("/api/test/validate/", {}, format="json").json()
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("title", "required"),
        ("sections", "required"),
        ("person", "required"),
    }


def test_titles_follow_accept_language_japanese_by_default(api_client) -> None:
    """GIVEN no credentials WHEN asked in English, Japanese or nothing THEN titles follow."""
    en = api_client.get("/api/v1/whoami/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").json()
    ja = api_client.get("/api/v1/whoami/", HTTP_ACCEPT_LANGUAGE="ja-JP,ja;q=0.9").json()
    default = api_client.get("/api/v1/whoami/").json()
    assert en["title"] == "Authentication required"
    assert ja["title"] == default["title"] == "認証が必要です"
    assert en["type"] == ja["type"]  # the type is the stable part, never translated


def test_django_404_becomes_a_not_found_problem_without_the_model_name(key_client) -> None:
    response = key_client.get("/api/test/missing/", HTTP_ACCEPT_LANGUAGE="en")
    body = assert_problem(response, status=404, slug="not-found")
    assert "Agency" not in response.content.decode() and body["title"] == "Not found"


def test_unknown_api_paths_are_not_found_problems(api_client) -> None:
    response = api_client.get("/api/v1/no-such-thing/", HTTP_X_REQUEST_ID="req-404-a")
    body = assert_problem(response, status=404, slug="not-found")
    assert body["instance"] == "urn:tsunagu:request:req-404-a"
    hint = api_client.get("/api/v1/whoami", HTTP_ACCEPT_LANGUAGE="en")
    assert "trailing slash" in assert_problem(hint, status=404, slug="not-found")["detail"]


def test_wrong_method_and_media_type(key_client) -> None:
    assert_problem(key_client.post("/api/v1/whoami/"), status=405, slug="method-not-allowed")
    unsupported = key_client.post(
        "/api/test/validate/", "title=x", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(unsupported, status=415, slug="unsupported-media-type")
    malformed = key_client.post("/api/test/validate/", "{", content_type="application/json")
    assert_problem(malformed, status=400, slug="malformed-request")


def test_registered_domain_errors_become_their_problem(key_client) -> None:
    """GIVEN a workflow error registered with register_problem WHEN raised THEN its problem."""
    body = assert_problem(
        key_client.get("/api/test/domain-error/", HTTP_ACCEPT_LANGUAGE="en"),
        status=409,
        slug="consent-not-covering",
    )
    assert body["title"] == "Not covered by consent"
    assert body["detail"] == "handoff 12 shares sections outside consent 7"

    # A subclass inherits the registration and may speak both languages with detail_for().
    ja = key_client.get("/api/test/domain-error/?which=sub", HTTP_ACCEPT_LANGUAGE="ja").json()
    en = key_client.get("/api/test/domain-error/?which=sub", HTTP_ACCEPT_LANGUAGE="en").json()
    assert (ja["title"], ja["detail"]) == ("同意の範囲外です", "この項目は共有されていません。")
    assert en["detail"] == "Section not shared."


def test_unexpected_errors_are_a_plain_500_that_leaks_nothing(issue_key) -> None:
    _key, plaintext = issue_key()
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/test/broken/", **bearer(plaintext))
    assert response.status_code == 500
    assert b"hunter2" not in response.content and b"internal detail" not in response.content


def test_registration_is_looked_up_along_the_mro_and_cannot_be_silently_changed() -> None:
    assert problem_type_for(SectionNotShared()) == ProblemType(
        slug="consent-not-covering",
        status=409,
        title_ja="同意の範囲外です",
        title_en="Not covered by consent",
    )
    assert problem_type_for(KeyError()) is None
    with pytest.raises(ImproperlyConfigured):
        register_problem(
            ConsentNotCovering, type_slug="other", status=400, title_ja="x", title_en="x"
        )


def test_the_type_uri_base_is_a_setting(api_client, settings) -> None:
    settings.TSUNAGU_PROBLEM_BASE_URI = "https://tsunagu.example.jp/problems"
    body = api_client.get("/api/v1/whoami/").json()
    assert body["type"] == "https://tsunagu.example.jp/problems/not-authenticated"
