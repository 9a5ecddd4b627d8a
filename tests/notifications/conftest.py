"""Fixtures for notification and escalation tests (the workflow network `net` is shared, in
tests/fixtures.py): a webhook receiver, its configured endpoint, and real worker processes
for end-to-end tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from notifications import delivery
from notifications import services as webhooks
from notifications.models import DeliveryState, OutboxMessage, WebhookEndpoint
from tests.fixtures import Network
from tests.notifications.support import (
    Receiver,
    RedisServer,
    Worker,
    database_env,
    filesystem_broker_options,
    publishing_to,
    purge_queue,
)

# The sheet's personal data (tests/fixtures.py SHEET_DATA): never in a notification.
PERSONAL = ("A.T", "明石市立テスト中学校", "登校しぶり", "母と二人暮らし", "不眠", "少人数")


@pytest.fixture
def local_webhooks(settings) -> None:
    """Let this process accept http://127.0.0.1 endpoints (the PostgreSQL run is not embedded)."""
    settings.TSUNAGU = {
        **settings.TSUNAGU,
        "WEBHOOK_ALLOW_PRIVATE": True,
        "WEBHOOK_ALLOW_HTTP": True,
        "SWEEP_GRACE_SECONDS": 0,
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1, recording every request."""
    with Receiver().running() as running:
        yield running


@dataclass
class Endpoint:
    endpoint: WebhookEndpoint
    secret: str


@pytest.fixture
def endpoint(net: Network, receiver: Receiver, local_webhooks: None) -> Endpoint:
    """The NPO's webhook endpoint pointing at the receiver, configured through the service."""
    configured = webhooks.webhook_configure(staff=net.npo_supervisor, url=receiver.url)
    assert configured.secret is not None
    return Endpoint(configured.endpoint, configured.secret)


@pytest.fixture
def deliver_all() -> Callable[[], list[str]]:
    """Deliver, in this process, every outbox row that is due now (what a worker would do)."""

    def run() -> list[str]:
        ids = delivery.due_message_ids(grace_seconds=0)
        return [delivery.deliver(message_id) for message_id in ids]

    return run


# --- end to end: real worker processes ------------------------------------------------------


@dataclass
class Broker:
    url: str
    env: dict[str, str]


@pytest.fixture
def e2e_dir(tmp_path: Path) -> Path:
    """Where the worker keeps its var/ (embedded key, filesystem queue) and its e-mail."""
    (tmp_path / "var").mkdir()
    return tmp_path


@pytest.fixture
def mail_dir(e2e_dir: Path) -> Path:
    return e2e_dir / "mail"


def _use_broker(url: str, var_dir: Path) -> Iterator[Broker]:
    options = (
        filesystem_broker_options(var_dir)
        if url.startswith("filesystem://")
        else {**django_settings.CELERY_BROKER_TRANSPORT_OPTIONS}
    )
    with publishing_to(url, options):
        purge_queue()
        yield Broker(url=url, env={"CELERY_BROKER_URL": url})


@pytest.fixture
def broker(e2e_dir: Path) -> Iterator[Broker]:
    """The configured broker: Redis in the PostgreSQL run (its own DB number and queue), the
    filesystem transport (folders under a tmp var/) in the embedded run."""
    url = django_settings.CELERY_BROKER_URL
    yield from _use_broker(url, e2e_dir / "var")


@pytest.fixture
def filesystem_broker(e2e_dir: Path) -> Iterator[Broker]:
    """The embedded default's broker, kombu's filesystem transport, under a tmp var/."""
    yield from _use_broker("filesystem://", e2e_dir / "var")


@pytest.fixture
def private_redis(e2e_dir: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop (never the shared one)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(directory=e2e_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_worker(
    transactional_db: None, e2e_dir: Path, mail_dir: Path
) -> Iterator[Callable[..., Worker]]:
    """Start `celery worker` processes on this test's database; all are stopped at the end.

    Call it with the Broker, optionally a pool and concurrency (default: solo), and any extra
    environment (e.g. NOTIFICATION_RETRY_SCHEDULE).
    """
    workers: list[Worker] = []

    def start(broker: Broker, *, pool: str = "solo", concurrency: int = 1, **extra: str) -> Worker:
        env = {k: v for k, v in os.environ.items() if k not in ("EMAIL_URL", "DATABASE_URL")}
        env.update(database_env())
        env.update(broker.env)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tsunagu.settings",
                "TSUNAGU_VAR_DIR": str(e2e_dir / "var"),
                "EMAIL_FILE_PATH": str(mail_dir),
                "CELERY_QUEUE": django_settings.CELERY_TASK_DEFAULT_QUEUE,
                "SITE_URL": django_settings.SITE_URL,
                "WEBHOOK_ALLOW_PRIVATE": "true",
                "WEBHOOK_ALLOW_HTTP": "true",
                "NOTIFICATION_SWEEP_GRACE_SECONDS": "0",
                **extra,
            }
        )
        if not env.get("DATABASE_URL"):
            env.pop("DATABASE_URL", None)
        worker = Worker(
            env=env, log_path=e2e_dir / "worker.log", pool=pool, concurrency=concurrency
        )
        workers.append(worker)
        return worker.start()

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()


def settled(**filters: object) -> Callable[[], bool]:
    """A predicate: every outbox row matching `filters` is no longer pending (and one exists)."""

    def check() -> bool:
        rows = OutboxMessage.objects.filter(**filters)
        return rows.exists() and not rows.filter(state=DeliveryState.PENDING).exists()

    return check
