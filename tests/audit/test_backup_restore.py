"""Backup and restore (docs/operations.md): a pg_dump restored into a new database verifies
against the external anchors; a restore of an older dump is detected through them."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from audit.context import Actor, ActorKind
from audit.models import AuditAction
from audit.services import audit_record_now
from audit.verification import verify
from tests import pg_roles
from tests.conftest import requires_postgres

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("pg_dump"), reason="needs pg_dump and pg_restore"),
]

ACTOR = Actor(kind=ActorKind.USER, user_id=7, agency_id=3, label="counselor")


def _events(n: int) -> None:
    for i in range(n):
        audit_record_now(action=AuditAction.SHEET_VIEWED, actor=ACTOR, object_id=i)


def _pg_args() -> list[str]:
    d = connection.settings_dict
    return ["-h", d["HOST"] or "127.0.0.1", "-p", str(d["PORT"] or 5432), "-U", pg_roles.owner()[0]]


def _dump(path: Path) -> None:
    subprocess.run(
        ["pg_dump", *_pg_args(), "-Fc", "-f", str(path), connection.settings_dict["NAME"]],
        check=True,
    )


@contextmanager
def _restored(dump: Path) -> Iterator[None]:
    """Restore `dump` into a new database and point the connection at it meanwhile."""
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:6]}"
    with pg_roles.owner_connection() as owner:
        owner.execute(f'CREATE DATABASE "{name}"')
    original = connection.settings_dict["NAME"]
    try:
        subprocess.run(
            ["pg_restore", *_pg_args(), "-d", name, "--exit-on-error", str(dump)], check=True
        )
        connection.close()
        connection.settings_dict["NAME"] = name
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        with pg_roles.owner_connection() as owner:
            owner.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_restored_dump_verifies_and_an_older_one_is_detected(tmp_path: Path) -> None:
    """GIVEN events anchored (beat's checkpoint) and a dump taken then
    WHEN more events are anchored later, and each dump is restored into a new database
    THEN the latest dump verifies in full against the anchor directory, while the older one
    is reported with the first event it lacks."""
    _events(4)
    call_command("audit_checkpoint")
    older = tmp_path / "older.dump"
    _dump(older)
    _events(3)
    call_command("audit_checkpoint")
    latest = tmp_path / "latest.dump"
    _dump(latest)
    last_anchored = connection.cursor()
    last_anchored.execute("SELECT max(id) FROM audit_auditevent")
    newest_id = last_anchored.fetchone()[0]

    with _restored(latest):
        report = verify(full=True, store=False)
        assert report.ok and report.count == 7, report.reason
        assert verify(full=False, store=False).ok

    with _restored(older):
        for full in (False, True):
            report = verify(full=full, store=False)
            assert not report.ok
            assert f"event {newest_id}" in report.reason and "missing" in report.reason
            assert report.broken_id == newest_id - 2  # the first of the 3 later events
