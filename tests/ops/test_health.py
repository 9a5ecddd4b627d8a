"""/healthz and /readyz: unauthenticated, no personal data, not audited; /readyz names the
dependency that fails (database, migrations, cache, broker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client

from audit.models import AuditEvent
from ops import health
from tests.notifications.support import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_migration_check() -> Iterator[None]:
    """The migration check remembers success per process; each test starts afresh."""
    health.reset()
    yield
    health.reset()


def test_healthz_answers_without_touching_anything(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_every_dependency_answers() -> None:
    before = AuditEvent.objects.count()
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "cache": "ok",
        "broker": "ok",
    }
    assert AuditEvent.objects.count() == before  # probes are not audited


def test_readyz_needs_no_login_no_allowed_host_and_no_https(settings) -> None:
    """A container healthcheck calls http://127.0.0.1:8000/readyz: with HTTPS redirect on and
    that host not allowed, it must still get the answer, not a redirect or a 400."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["tsunagu.example.jp"]
    response = Client().get("/readyz", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200
    assert Client().get("/healthz", HTTP_HOST="10.1.2.3").status_code == 200


def test_readyz_503_names_the_cache_when_it_is_down(settings) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["cache"]
    assert body["checks"]["database"] == "ok"


def test_readyz_503_names_the_broker_when_it_is_down(monkeypatch) -> None:
    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]


def test_readyz_503_names_migrations_not_applied(monkeypatch) -> None:
    """GIVEN the newest migration of an app is not recorded as applied THEN 503 migrations.

    The record is hidden from the migration loader rather than deleted: the application role
    the PostgreSQL run uses may not change django_migrations, as in production."""
    recorder = MigrationRecorder(connection)
    newest = recorder.migration_qs.filter(app="audit").order_by("-id").first()
    assert newest is not None
    applied = MigrationRecorder.applied_migrations

    def without_newest(self):
        return {k: v for k, v in applied(self).items() if k != ("audit", newest.name)}

    monkeypatch.setattr(MigrationRecorder, "applied_migrations", without_newest)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["migrations"]
