"""Shared fixtures. Tests run against the database of the environment: SQLite by default,
PostgreSQL when DATABASE_URL is set (as CI's second run does). The workflow network, the sent
hop, compiled catalogs and plain static files come from tests/fixtures.py (loaded below)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.utils import translation
from hypothesis import settings as hypothesis_settings

from audit.context import Actor, ActorKind
from tests import pg_roles
from tests.profile import ENV, PROFILE

pytest_plugins = ["tests.fixtures", "tests.komae"]

# Outside embedded mode FIELD_ENCRYPTION_KEYS has no default (production must set its own):
# a test run on PostgreSQL without one gets a fixed test key, here and in the processes the
# tests start (live servers, workers), so all of them read what the others wrote.
TEST_FIELD_KEYS = "test1:" + "dGVzdC1vbmx5LWZpZWxkLWtleS0wMTIzNDU2Nzg5YWI="
if not django_settings.FIELD_ENCRYPTION_KEYS:
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", TEST_FIELD_KEYS)
    django_settings.FIELD_ENCRYPTION_KEYS = os.environ["FIELD_ENCRYPTION_KEYS"].split(",")
# On the embedded default the keys come from this process's var/ directory; a process the
# tests start with a var/ of its own would make other keys and fail to read what the tests
# wrote: hand it these.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", ",".join(django_settings.FIELD_ENCRYPTION_KEYS))

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


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """PostgreSQL: the test database is created and migrated by the owner (tests/pg_roles)."""
    if on_postgres():
        pg_roles.connect_as(*pg_roles.owner())


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """PostgreSQL: grant the application role (db_roles --apply) on the test database, then
    run every test connected as it, as production does; the owner drops it at the end."""
    if not on_postgres():
        yield
        return
    with django_db_blocker.unblock():
        call_command("db_roles", "--apply", "--app-role", pg_roles.app()[0], verbosity=0)
    pg_roles.connect_as(*pg_roles.app())
    yield
    pg_roles.connect_as(*pg_roles.owner())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Back to the application role after a transactional test's flush (run as the owner)."""
    if on_postgres() and not connection.in_atomic_block and not pg_roles.connected_as_app():
        pg_roles.connect_as(*pg_roles.app())


@pytest.fixture
def transactional_db(transactional_db: None) -> Iterator[None]:
    """pytest-django's transactional_db, whose teardown flush empties the append-only tables.

    Only the owner may (the application role cannot TRUNCATE, and the triggers refuse it):
    the flush runs as the owner with triggers off (session_replication_role, superuser in
    tests), and the next test reconnects as the application role.
    """
    yield
    if on_postgres():
        _flush_as_owner()


def _flush_as_owner() -> None:
    pg_roles.connect_as(*pg_roles.owner())
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")


@pytest.fixture(autouse=True)
def _transaction_marker_flush_as_owner(
    request: pytest.FixtureRequest, django_db_blocker: Any
) -> Iterator[None]:
    """The same for tests marked django_db(transaction=True), whose flush is set up by
    pytest-django's own autouse fixture (before this one, so torn down after it)."""
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and (
        marker.kwargs.get("transaction") or (marker.args and marker.args[0])
    )
    if transactional and on_postgres() and not connection.in_atomic_block:
        with django_db_blocker.unblock():
            _flush_as_owner()


@pytest.fixture(autouse=True)
def _anchor_dir(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test signs its checkpoints into a directory of its own, with a known key."""
    settings.AUDIT_ANCHOR_PATH = str(tmp_path_factory.mktemp("anchors"))
    settings.AUDIT_ANCHOR_KEY = "test-anchor-key-0123456789abcdef"


@pytest.fixture
def system_actor() -> Actor:
    """An actor for writes done by the system (commands, tasks) in tests."""
    return Actor(kind=ActorKind.SYSTEM, label="test")


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Every test starts in the default language (Japanese). LocaleMiddleware activates a
    request's language in the thread and leaves it active after the response, so a test that
    asks in English would otherwise change the labels a later test reads."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """Argon2 is deliberately slow; tests hash throwaway passwords with a fast hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
