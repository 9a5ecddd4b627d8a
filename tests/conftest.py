"""Shared fixtures. Tests run against the database of the environment: SQLite by default,
PostgreSQL when DATABASE_URL is set (as CI's second run does). The workflow network, the sent
hop, compiled catalogs and plain static files come from tests/fixtures.py (loaded below)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from hypothesis import settings as hypothesis_settings

from audit.context import Actor, ActorKind
from tests.profile import ENV, PROFILE

pytest_plugins = ["tests.fixtures"]

# dev (make test) or ci (make test-all, .ci/run): how many examples the slow tests generate.
hypothesis_settings.load_profile(PROFILE.name)


def pytest_report_header() -> str:
    return f"test profile: {PROFILE.name} ({ENV}; make test-all runs the full ci profile)"


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


requires_postgres = pytest.mark.skipif(
    "not __import__('django.db').db.connection.vendor == 'postgresql'",
    reason="needs PostgreSQL (set DATABASE_URL)",
)


@pytest.fixture
def transactional_db(transactional_db: None) -> Iterator[None]:
    """pytest-django's transactional_db, allowing its teardown flush past the audit triggers.

    The append-only triggers reject TRUNCATE, and so would reject Django's flush between
    transactional tests. Only this test session (a superuser) switches triggers off, just
    for the flush; `_triggers_back_on` switches them on again before the next test.
    """
    yield
    if on_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")


@pytest.fixture(autouse=True)
def _triggers_back_on(django_db_blocker: pytest.FixtureRequest) -> None:
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture
def system_actor() -> Actor:
    """An actor for writes done by the system (commands, tasks) in tests."""
    return Actor(kind=ActorKind.SYSTEM, label="test")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """Argon2 is deliberately slow; tests hash throwaway passwords with a fast hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
