"""Idempotency-Key on POST: a retry gets the first answer and the view does not act twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import Category
from api.idempotency import (
    IDEMPOTENCY_LEASE,
    IDEMPOTENCY_TTL,
    idempotency_records_purge,
    request_fingerprint,
)
from api.models import APIKey, IdempotencyRecord
from api.tasks import purge_idempotency_records
from tests.api import urls as test_urls
from tests.api.helpers import assert_problem, bearer
from tests.conftest import requires_postgres
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

URL = "/api/test/categories/"


@pytest.fixture
def api_key(issue_key) -> APIKey:
    """The API key `key_client` uses."""
    key, plaintext = issue_key()
    key.plaintext = plaintext
    return key


@pytest.fixture
def key_client(api_client, api_key) -> APIClient:
    """A client authenticated with `api_key`."""
    api_client.credentials(**bearer(api_key.plaintext))
    return api_client


def seed_record(key: APIKey, body: bytes, *, age: timedelta = timedelta(0), **fields) -> None:
    """A record as a request with `body` under key "retry-1" left it, `age` ago."""
    created = timezone.now() - age
    IdempotencyRecord.objects.create(
        principal=f"key:{key.pk}",
        key="retry-1",
        fingerprint=request_fingerprint(method="POST", path=URL, body=body),
        created_at=created,
        expires_at=created + IDEMPOTENCY_TTL,
        **fields,
    )


def post(client: APIClient, body: dict, key: str | None = "retry-1", **extra) -> object:
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(URL, body, format="json", **extra)


def test_a_retry_replays_the_first_response_without_acting_again(key_client) -> None:
    """GIVEN a POST that created a row WHEN retried with the same key THEN same answer, one row."""
    first = post(key_client, {"code": "t-first"})
    again = post(key_client, {"code": "t-first"})

    assert first.status_code == again.status_code == 201
    assert again.content == first.content == b'{"code":"t-first","rows":1}'
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert again["Location"] == first["Location"] == "/categories/t-first/"
    assert again["ETag"] == '"c-1"' and again["Content-Type"] == "application/json"
    assert Category.objects.filter(code="t-first").count() == 1


def test_without_a_key_every_post_runs(key_client) -> None:
    assert post(key_client, {"code": "t-again"}, key=None).status_code == 201
    assert post(key_client, {"code": "t-again"}, key=None).status_code == 400  # ran again
    assert not IdempotencyRecord.objects.exists()


def test_the_same_key_with_another_body_is_refused_with_422(key_client) -> None:
    post(key_client, {"code": "t-abuse"})
    response = post(key_client, {"code": "t-other"}, HTTP_ACCEPT_LANGUAGE="en")
    body = assert_problem(response, status=422, slug="idempotency-key-reused")
    assert body["title"] == "Idempotency-Key reused"
    assert not Category.objects.filter(code="t-other").exists()


def test_keys_belong_to_one_principal(api_client, issue_key) -> None:
    """GIVEN two API keys and a staff session WHEN each uses the same key THEN each one acts."""
    (_, first), (_, second) = issue_key(), issue_key()
    staff = APIClient()
    staff.force_login(MembershipFactory().user)

    a = post(api_client, {"code": "a"}, **bearer(first))
    b = post(api_client, {"code": "b"}, **bearer(second))
    c = post(staff, {"code": "c"})

    assert [r.status_code for r in (a, b, c)] == [201, 201, 201]
    assert not any(r.has_header("Idempotent-Replayed") for r in (a, b, c))
    assert set(Category.objects.values_list("code", flat=True)) >= {"a", "b", "c"}
    assert IdempotencyRecord.objects.filter(key="retry-1").count() == 3


def test_client_errors_are_stored_and_replayed_too(key_client) -> None:
    Category.objects.create(code="taken", label_ja="x", label_en="x")
    first = post(key_client, {"code": "taken"})
    again = post(key_client, {"code": "taken"})
    assert first.status_code == again.status_code == 400
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert again["Content-Type"] == "application/problem+json"


def test_a_server_error_rolls_the_view_back_and_frees_the_key(issue_key) -> None:
    """GIVEN a view that wrote then crashed WHEN it fails THEN no row, no record, a retry runs."""
    _key, plaintext = issue_key()
    client = APIClient(raise_request_exception=False)
    client.credentials(**bearer(plaintext))

    crashed = post(client, {"code": "dev_disability", "explode": True})

    assert crashed.status_code == 500
    assert not Category.objects.filter(code="dev_disability").exists()
    assert not IdempotencyRecord.objects.exists()
    retried = post(client, {"code": "dev_disability", "explode": True})
    assert retried.status_code == 500 and not retried.has_header("Idempotent-Replayed")


def test_a_request_still_in_flight_answers_409(key_client, api_key) -> None:
    seed_record(api_key, b'{"code":"x"}', age=timedelta(seconds=5))
    response = post(key_client, {"code": "x"}, HTTP_ACCEPT_LANGUAGE="en")
    assert_problem(response, status=409, slug="idempotency-key-in-progress")
    assert not Category.objects.filter(code="x").exists()


def test_a_claim_abandoned_past_the_lease_is_taken_over(key_client, api_key) -> None:
    """GIVEN a claim whose request died WHEN the lease has passed THEN the retry runs."""
    seed_record(api_key, b'{"code":"x"}', age=IDEMPOTENCY_LEASE + timedelta(seconds=1))
    assert post(key_client, {"code": "x"}).status_code == 201
    assert Category.objects.filter(code="x").count() == 1


def test_an_expired_record_is_forgotten(key_client, api_key) -> None:
    seed_record(
        api_key,
        b'{"code":"other"}',
        age=IDEMPOTENCY_TTL + timedelta(seconds=1),
        status_code=201,
        response_body=b"{}",
    )
    response = post(key_client, {"code": "x"})  # another body, but the old use has expired
    assert response.status_code == 201 and not response.has_header("Idempotent-Replayed")


@pytest.mark.parametrize(("length", "expected"), [(0, 400), (255, 201), (256, 400)])
def test_key_length_is_1_to_255(key_client, length, expected) -> None:
    response = post(key_client, {"code": f"len{length}"}, key="k" * length)
    if expected == 400:
        assert_problem(response, status=400, slug="idempotency-key-invalid")
        assert not Category.objects.filter(code=f"len{length}").exists()
    else:
        assert response.status_code == 201


def test_purge_deletes_only_expired_records(api_key) -> None:
    seed_record(api_key, b"old", age=IDEMPOTENCY_TTL + timedelta(minutes=1), status_code=201)
    IdempotencyRecord.objects.create(
        principal=f"key:{api_key.pk}",
        key="recent",
        fingerprint="0" * 64,
        expires_at=timezone.now() + IDEMPOTENCY_TTL,
    )
    assert idempotency_records_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]


def test_the_purge_is_scheduled(settings) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["api-purge-idempotency-records"]
    assert entry["task"] == purge_idempotency_records.name
    assert purge_idempotency_records.apply().get() == 0


@requires_postgres
def test_a_concurrent_duplicate_gets_409_while_the_first_runs(transactional_db, issue_key) -> None:
    """GIVEN a first request inside the view WHEN a duplicate arrives THEN 409, then a replay.

    PostgreSQL only: on SQLite writers are serialised, so the duplicate waits for the first
    request's transaction and then gets the replay.
    """
    _key, plaintext = issue_key()
    test_urls.slow_view_entered.clear()
    test_urls.slow_view_release.clear()
    results: dict[str, object] = {}

    def first_request() -> None:
        try:
            client = APIClient()
            results["first"] = client.post(
                "/api/test/slow/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k", **bearer(plaintext)
            )
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert test_urls.slow_view_entered.wait(timeout=10)
        client = APIClient()
        send = lambda: client.post(  # noqa: E731
            "/api/test/slow/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k", **bearer(plaintext)
        )
        assert_problem(send(), status=409, slug="idempotency-key-in-progress")
    finally:
        test_urls.slow_view_release.set()
        thread.join(timeout=30)

    assert results["first"].status_code == 201
    replay = send()
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert Category.objects.filter(code="slow").count() == 1
