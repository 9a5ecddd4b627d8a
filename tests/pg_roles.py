"""Running the PostgreSQL tests as the application role, as production does.

pytest-django creates and migrates the test database as the owner (DATABASE_OWNER_URL, or
DATABASE_URL's user when that is not set); the session then grants the application role
(`db_roles --apply`: DATABASE_URL's user when it differs from the owner, else
DATABASE_APP_ROLE) and reconnects as it for every test. Only the flush after a transactional
test, which must empty the append-only tables, runs as the owner.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import environ
import psycopg
from django.conf import settings
from django.db import connection

_env = environ.Env()


def _credentials() -> tuple[tuple[str, str], tuple[str, str]]:
    default = _env.db_url("DATABASE_URL")
    owner_url = os.environ.get("DATABASE_OWNER_URL", "")
    owner = _env.db_url_config(owner_url) if owner_url else default
    owner_pair = (owner["USER"], owner.get("PASSWORD", ""))
    if default["USER"] != owner["USER"]:
        app_pair = (default["USER"], default.get("PASSWORD", ""))
    else:
        app_pair = (settings.DATABASE_APP_ROLE, os.environ.get("DATABASE_APP_PASSWORD", ""))
    return owner_pair, app_pair


def owner() -> tuple[str, str]:
    return _credentials()[0]


def app() -> tuple[str, str]:
    return _credentials()[1]


def connect_as(user: str, password: str) -> None:
    """Reconnect Django's connection (and the threads that share its settings) as `user`."""
    settings_dict: dict[str, Any] = connection.settings_dict
    if settings_dict["USER"] == user:
        return
    connection.close()
    settings_dict["USER"], settings_dict["PASSWORD"] = user, password


def connected_as_app() -> bool:
    return connection.settings_dict["USER"] == app()[0]


@contextmanager
def owner_connection() -> Iterator[psycopg.Connection[Any]]:
    """A separate autocommit connection to the test database with the owner's credentials:
    the insider who can switch triggers off. Sees only what the tests committed."""
    user, password = owner()
    d = connection.settings_dict
    with psycopg.connect(
        dbname=d["NAME"],
        user=user,
        password=password or None,
        host=d["HOST"] or None,
        port=d["PORT"] or None,
        autocommit=True,
        # A test that forgot transaction=True would wait forever on its own open transaction.
        options="-c lock_timeout=10s",
    ) as conn:
        yield conn


@contextmanager
def app_connection() -> Iterator[psycopg.Connection[Any]]:
    """A separate autocommit connection logged in as the application role."""
    user, password = app()
    d = connection.settings_dict
    with psycopg.connect(
        dbname=d["NAME"],
        user=user,
        password=password or None,
        host=d["HOST"] or None,
        port=d["PORT"] or None,
        autocommit=True,
        # A test that forgot transaction=True would wait forever on its own open transaction.
        options="-c lock_timeout=10s",
    ) as conn:
        yield conn
