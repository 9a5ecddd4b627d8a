"""Every error under /api/ is an RFC 9457 problem, including the ones Django answers itself,
and the body is refused before parsing when it is too large or nested too deep."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from api.degraded import RETRY_AFTER_SECONDS
from api.idempotency import request_fingerprint
from api.models import IdempotencyRecord
from api.parsers import BoundedJSONParser, nesting_exceeds
from api.problems import RequestTooLarge
from tests.api.helpers import assert_problem, bearer, csrf_pair
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]


@pytest.fixture
def key_pair(issue_key):
    """A read/write key: (APIKey, plaintext)."""
    return issue_key(scopes=("handoffs:read", "handoffs:write"))


@pytest.fixture
def key(key_pair) -> str:
    return key_pair[1]


@pytest.fixture
def small_bodies(settings) -> None:
    """An API body limit of 1 KiB and a JSON nesting limit of 8."""
    settings.TSUNAGU = {**settings.TSUNAGU, "API_MAX_BODY_BYTES": 1024, "API_JSON_MAX_DEPTH": 8}


def test_unknown_paths_anywhere_under_api_are_not_found_problems() -> None:
    """GIVEN a path under /api/ that no view serves (outside /api/v1/ too) THEN 404 problem."""
    response = Client().get("/api/v2/handoffs/", HTTP_ACCEPT_LANGUAGE="en")
    body = assert_problem(response, status=404, slug="not-found")
    assert body["title"] == "Not found"
    # Outside /api/ people still get the HTML page.
    page = Client().get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_a_body_over_the_limit_is_refused_from_content_length_unread(key, small_bodies) -> None:
    """GIVEN a 1 KiB limit WHEN 2 KiB of JSON is posted THEN 413 problem, nothing parsed."""
    body = json.dumps({"note": "x" * 2048})
    response = APIClient().post(
        "/api/v1/handoffs/1/acknowledge/", body, content_type="application/json", **bearer(key)
    )
    assert_problem(response, status=413, slug="request-too-large")


def test_djangos_own_upload_limit_is_a_413_problem_too(key, settings) -> None:
    """GIVEN DATA_UPLOAD_MAX_MEMORY_SIZE below the API's limit WHEN a body exceeds it THEN
    413 problem (Django would answer a 400 HTML page)."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512
    response = APIClient().post(
        "/api/test/validate/", {"title": "x" * 1000}, format="json", **bearer(key)
    )
    assert_problem(response, status=413, slug="request-too-large")


def test_deeply_nested_json_is_a_400_problem_not_a_recursion_error(key) -> None:
    """GIVEN JSON nested 100,000 deep (Python's parser would recurse) THEN 400 problem."""
    response = APIClient().post(
        "/api/test/validate/", "[" * 100_000, content_type="application/json", **bearer(key)
    )
    body = assert_problem(response, status=400, slug="malformed-request")
    assert "nested" in body["detail"]


def test_nesting_within_the_limit_is_parsed_and_strings_do_not_count(key, small_bodies) -> None:
    nested: object = {"title": "[[[[[{{{{{", "sections": [], "person": {"age": 9}}
    response = APIClient().post(
        "/api/test/validate/", json.dumps(nested), content_type="application/json", **bearer(key)
    )
    assert response.status_code == 200, response.content
    too_deep = json.dumps({"title": "t", "person": {"a": [[[[[[[[1]]]]]]]]}})
    assert_problem(
        APIClient().post(
            "/api/test/validate/", too_deep, content_type="application/json", **bearer(key)
        ),
        status=400,
        slug="malformed-request",
    )


def test_the_parser_stops_reading_at_the_limit(settings, small_bodies) -> None:
    """A body without Content-Length (chunked) is read only up to the limit, then refused."""
    stream = io.BytesIO(b'{"a": "' + b"x" * 100_000 + b'"}')
    with pytest.raises(RequestTooLarge):
        BoundedJSONParser().parse(stream, "application/json", {})
    assert stream.tell() == 1025


def test_nesting_scan_counts_only_brackets_outside_strings() -> None:
    assert nesting_exceeds(b"[" * 9, 8)
    assert not nesting_exceeds(b"[" * 8 + b"]" * 8, 8)
    assert not nesting_exceeds(b'["[[[[[[[[[[[[[[[[", "\\"[[[[[[[[[["]', 8)


def test_an_unexpected_error_is_a_500_problem_that_leaks_nothing(key) -> None:
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/test/broken/", HTTP_X_REQUEST_ID="boom-1", **bearer(key))
    body = assert_problem(response, status=500, slug="server-error")
    assert b"hunter2" not in response.content and b"internal detail" not in response.content
    assert body["instance"] == "urn:tsunagu:request:boom-1"


def test_a_database_that_is_down_is_a_503_problem_with_retry_after(key) -> None:
    """GIVEN a view that meets a dead database THEN 503 service-unavailable + Retry-After,
    and the error's text (which names a host) is not echoed."""
    response = APIClient().get("/api/test/database-down/", **bearer(key))
    assert_problem(response, status=503, slug="service-unavailable")
    assert int(response["Retry-After"]) == RETRY_AFTER_SECONDS
    assert b"10.0.0.5" not in response.content


class _BrokenMiddleware:
    """A middleware that fails for one path: Django answers 500 before any view runs."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/api/v1/whoami/":
            raise RuntimeError("middleware failed")
        return self.get_response(request)


def test_a_500_from_a_middleware_is_a_problem_too(key, settings) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}._BrokenMiddleware"]
    client = APIClient(raise_request_exception=False)
    assert_problem(client.get("/api/v1/whoami/", **bearer(key)), status=500, slug="server-error")


def test_csrf_refusal_of_a_session_post_is_a_403_problem() -> None:
    """GIVEN a logged-in staff member WHEN posting to the API without the CSRF token
    THEN 403 problem (not Django's HTML CSRF page)."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(MembershipFactory().user)
    response = client.post("/api/v1/handoffs/1/acknowledge/", {}, format="json")
    assert_problem(response, status=403, slug="forbidden")
    cookie, token = csrf_pair()
    client.cookies[cookie] = token
    allowed = client.post(
        "/api/v1/handoffs/1/acknowledge/", {}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert allowed.status_code != 403


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "slug"),
    [
        ("get", "/api/v1/whoami/", {}, 401, "not-authenticated"),
        ("post", "/api/v1/whoami/", {"auth": True}, 405, "method-not-allowed"),
        (
            "post",
            "/api/test/validate/",
            {"auth": True, "form": True},
            415,
            "unsupported-media-type",
        ),
        ("post", "/api/test/validate/", {"auth": True, "data": "{"}, 400, "malformed-request"),
        ("put", "/api/test/scoped/", {"auth": True}, 403, "insufficient-scope"),
        ("get", "/api/v1/handoffs/999999/", {"auth": True}, 404, "not-found"),
    ],
)
def test_each_client_error_is_a_problem(key, method, path, kwargs, status, slug) -> None:
    client = APIClient()
    extra = bearer(key) if kwargs.get("auth") else {}
    if kwargs.get("form"):
        response = getattr(client, method)(
            path, "title=x", content_type="application/x-www-form-urlencoded", **extra
        )
    elif "data" in kwargs:
        response = getattr(client, method)(
            path, kwargs["data"], content_type="application/json", **extra
        )
    else:
        response = getattr(client, method)(path, **extra)
    assert_problem(response, status=status, slug=slug)


def test_an_unfinished_idempotency_claim_answers_409_with_the_lease_left(key_pair) -> None:
    """GIVEN a claim taken 20 s ago by a request that never finished (60 s lease)
    WHEN the same key is retried THEN 409 with Retry-After of about 40 s."""
    api_key, key = key_pair
    now = timezone.now()
    IdempotencyRecord.objects.create(
        principal=f"key:{api_key.pk}",
        key="k-1",
        fingerprint=request_fingerprint(
            method="POST", path="/api/test/categories/", body=b'{"code":"x"}'
        ),
        created_at=now - timedelta(seconds=20),
        expires_at=now + timedelta(hours=23),
    )
    response = APIClient().post(
        "/api/test/categories/",
        {"code": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
        **bearer(key),
    )
    assert_problem(response, status=409, slug="idempotency-key-in-progress")
    assert 35 <= int(response["Retry-After"]) <= 40
