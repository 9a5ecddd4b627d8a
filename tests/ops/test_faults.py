"""Faults injected into real processes: gunicorn serving the API (as in production), a
redis-server of the test's own that is stopped mid-burst, a PostgreSQL address where nothing
listens, and a gunicorn worker SIGKILLed in the middle of a request."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.db import transaction

from api.keys import api_key_create
from api.models import IdempotencyRecord
from api.scopes import ALL_SCOPES
from audit.context import Actor
from audit.models import AuditAction, AuditEvent
from notifications import tasks
from notifications.models import Channel, DeliveryState, OutboxMessage
from relay.models import Handoff
from tests.conftest import requires_postgres
from tests.notifications.conftest import (  # noqa: F401  (fixtures)
    Broker,
    e2e_dir,
    endpoint,
    local_webhooks,
    mail_dir,
    private_redis,
    receiver,
    settled,
    start_worker,
)
from tests.notifications.support import free_port, publishing_to, wait_for
from tests.ops.support import WebServer, server_env

pytestmark = [pytest.mark.e2e]

LEASE = 20  # seconds
SECRET = "ci-only-not-secret-faults-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def start_server(e2e_dir: Path) -> Iterator[Callable[..., WebServer]]:  # noqa: F811
    """Start gunicorn with this environment on the test database; stopped at the end."""
    servers: list[WebServer] = []

    def start(**extra: str) -> WebServer:
        env = server_env(e2e_dir / "var", **extra)
        server = WebServer(env=env, log_path=e2e_dir / "gunicorn.log")
        servers.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def _key(agency) -> str:
    _obj, plaintext = api_key_create(
        agency=agency,
        name="fault test",
        scopes=sorted(ALL_SCOPES),
        expires_at=None,
        created_by=None,
        actor=Actor.system("tests"),
    )
    return plaintext


def _is_problem_503(response: httpx.Response) -> bool:
    return (
        response.status_code == 503
        and response.headers["content-type"] == "application/problem+json"
        and int(response.headers["retry-after"]) >= 1
        and response.json()["status"] == 503
    )


def test_postgresql_unreachable_is_503_problem_and_readyz_names_the_database(
    start_server,
) -> None:
    """GIVEN a web process whose PostgreSQL address has nothing listening WHEN partners call
    the API THEN each answer is 503 problem+json with Retry-After (never a 500 HTML page), and
    /readyz is 503 naming the database while /healthz stays 200."""
    server = start_server(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/tsunagu",
        SECRET_KEY=SECRET,
        CELERY_BROKER_URL="filesystem://",
        CACHE_URL="locmemcache://",
    )
    with httpx.Client(base_url=server.url, timeout=10) as client:
        # Well-formed, so that authentication has to look it up in the database.
        auth = {"Authorization": f"Bearer tsk_abcdefgh_{'x' * 43}"}
        answers = [
            client.get("/api/v1/whoami/", headers=auth),
            client.get("/api/v1/handoffs/", headers=auth),
            client.post("/api/v1/handoffs/", json={"sheet": 1}, headers=auth),
            client.post(
                "/api/v1/handoffs/1/acknowledge/",
                json={},
                headers={**auth, "Idempotency-Key": "k-1"},
            ),
        ]
        assert all(_is_problem_503(r) for r in answers), [r.text for r in answers]
        assert answers[0].json()["instance"] == (
            f"urn:tsunagu:request:{answers[0].headers['x-request-id']}"
        )
        assert "127.0.0.1" not in answers[0].text

        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["failed"] == ["database"]
        assert client.get("/healthz").status_code == 200


@pytest.mark.usefixtures("transactional_db")
def test_redis_stopped_during_a_burst_of_api_sends_degrades_and_loses_nothing(
    net,
    endpoint,  # noqa: F811
    receiver,  # noqa: F811
    private_redis,  # noqa: F811
    start_server,
    start_worker,  # noqa: F811
) -> None:
    """GIVEN the API on a Redis (cache and broker) of its own WHEN Redis stops in the middle
    of a burst of sends and comes back THEN every answer is 2xx or 503 problem+json (no 500),
    sends keep committing during the outage, and once Redis is back every committed send
    is delivered (webhook and e-mail)."""
    sheets = []
    for _ in range(18):
        sheet = net.sheet()
        net.consent(sheet)
        sheets.append(sheet)
    key = _key(net.ward)
    cache_url = private_redis.url.rsplit("/", 1)[0] + "/1"
    server = start_server(
        CACHE_URL=cache_url,
        CELERY_BROKER_URL=private_redis.url,
        CACHE_TIMEOUT_SECONDS="0.5",
        API_RATE_LIMIT="1000/min",
    )

    answers: list[httpx.Response] = []
    during_outage: list[httpx.Response] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for index, sheet in enumerate(sheets):
            if index == 5:
                private_redis.stop()
            if index == 13:
                private_redis.start()
            response = client.post(
                "/api/v1/handoffs/",
                json={
                    "sheet": sheet.pk,
                    "to_agency": net.npo.slug,
                    "sections": ["basic", "consultation"],
                    "purpose": "support",
                },
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())},
            )
            answers.append(response)
            if 5 <= index < 13:
                during_outage.append(response)

    statuses = [r.status_code for r in answers]
    assert all(
        200 <= s < 300 or _is_problem_503(r) for s, r in zip(statuses, answers, strict=True)
    ), statuses
    assert 500 not in statuses
    # The API did not go down with Redis: sends committed while it was stopped.
    assert any(200 <= r.status_code < 300 for r in during_outage), statuses
    log = server.log()
    assert log.count("rate-limit cache unavailable") == 1  # once a minute, not per request

    sent = Handoff.objects.filter(to_agency=net.npo, status="sent")
    assert sent.count() == sum(200 <= s < 300 for s in statuses)

    with publishing_to(private_redis.url, {}):
        start_worker(Broker(url=private_redis.url, env={"CELERY_BROKER_URL": private_redis.url}))
        rows = OutboxMessage.objects.filter(handoff__in=sent)

        def all_delivered() -> bool:
            tasks.sweep_outbox()  # what beat does every 15 s
            return not rows.exclude(state=DeliveryState.DELIVERED).exists()

        wait_for(all_delivered, timeout=90, what="every committed send to be delivered")
    assert rows.filter(channel=Channel.WEBHOOK).count() == sent.count()
    assert {r.headers["webhook-id"] for r in receiver.webhooks()} >= {
        str(pk) for pk in rows.filter(channel=Channel.WEBHOOK).values_list("pk", flat=True)
    }


@requires_postgres
@pytest.mark.postgres
@pytest.mark.usefixtures("transactional_db")
def test_a_worker_killed_mid_request_frees_its_idempotency_key_after_the_lease(
    net, start_server
) -> None:
    """GIVEN an acknowledge in flight (blocked on the hop's row lock) WHEN its gunicorn worker
    is SIGKILLed THEN a retry with the same Idempotency-Key gets 409 with Retry-After until
    the lease ends, then runs once: the hop is acknowledged, audited once."""
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    key = _key(net.npo)
    # Long enough that the retry below lands inside it even on a loaded machine.
    server = start_server(IDEMPOTENCY_LEASE_SECONDS=str(LEASE))
    url = f"{server.url}/api/v1/handoffs/{hop.pk}/acknowledge/"
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "ack-1"}
    first_error: list[BaseException] = []

    def first_request() -> None:
        try:
            httpx.post(url, json={}, headers=headers, timeout=30)
        except httpx.HTTPError as exc:  # the worker dies under it
            first_error.append(exc)

    with transaction.atomic():
        Handoff.objects.select_for_update().get(pk=hop.pk)  # the view will wait for this
        thread = threading.Thread(target=first_request)
        thread.start()
        wait_for(
            lambda: IdempotencyRecord.objects.filter(key="ack-1").exists(),
            what="the first request to claim its key",
        )
        (worker_pid,) = server.worker_pids()
        os.kill(worker_pid, signal.SIGKILL)
        thread.join(timeout=30)
    assert first_error, "the first request should have lost its connection"

    retry = httpx.post(url, json={}, headers=headers, timeout=30)
    assert retry.status_code == 409, retry.text
    assert retry.headers["content-type"] == "application/problem+json"
    assert 1 <= int(retry.headers["retry-after"]) <= LEASE

    def after_lease() -> httpx.Response | None:
        answer = httpx.post(url, json={}, headers=headers, timeout=30)
        if answer.status_code == 409:
            assert 1 <= int(answer.headers["retry-after"]) <= LEASE
            return None
        return answer

    final = wait_for(after_lease, timeout=LEASE + 40, what="the lease to run out")
    assert final.status_code == 200, final.text
    hop.refresh_from_db()
    assert hop.status == "acknowledged"
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.HANDOFF_ACKNOWLEDGED, object_id=str(hop.pk)
        ).count()
        == 1
    )
