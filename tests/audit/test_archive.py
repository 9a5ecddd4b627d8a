"""Archiving a month (PostgreSQL, as the owner): export + verify + sign + detach, in order,
never inside retention, and verification of the live table and of the file afterwards."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from audit import partitions
from audit.archive import ArchiveError, verify_export
from audit.context import Actor, ActorKind
from audit.models import AuditAction, AuditArchive, AuditEvent
from audit.services import audit_record_now
from audit.verification import verify
from tests import pg_roles
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

ACTOR = Actor(kind=ActorKind.USER, user_id=7, agency_id=3, label="counselor")
TOKYO = ZoneInfo("Asia/Tokyo")
JANUARY, FEBRUARY = date(2019, 1, 1), date(2019, 2, 1)


def _events(n: int, at: datetime | None = None) -> None:
    def write() -> None:
        for i in range(n):
            audit_record_now(action=AuditAction.SHEET_VIEWED, actor=ACTOR, object_id=i)

    if at is None:
        write()
    else:
        with time_machine.travel(at, tick=True):
            write()


@pytest.fixture
def as_owner() -> Iterator[None]:
    """The operator runs archiving as the owner; old months get their partitions first."""
    pg_roles.connect_as(*pg_roles.owner())
    partitions.ensure(connection, first=JANUARY, until=FEBRUARY)
    yield
    with pg_roles.owner_connection() as owner:  # the detached tables, kept by the command
        for month in (JANUARY, FEBRUARY):
            owner.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(month)}")
        for month in (JANUARY, FEBRUARY):
            owner.execute(
                f"CREATE TABLE IF NOT EXISTS {partitions.partition_name(month)} "
                f"PARTITION OF {partitions.PARENT} FOR VALUES FROM ('{month}') "
                f"TO ('{partitions.next_month(month)}')"
            )


def test_the_oldest_month_is_exported_signed_and_detached_and_the_rest_still_verifies(
    as_owner, tmp_path: Path
) -> None:
    _events(12, datetime(2019, 1, 20, 10, tzinfo=TOKYO))
    _events(7, datetime(2019, 2, 14, 10, tzinfo=TOKYO))
    _events(5)
    call_command("audit_checkpoint")
    before = AuditEvent.objects.count()

    with pytest.raises(CommandError, match="archive them first"):
        call_command("audit_archive", "--month", "2019-02", "--to", str(tmp_path))
    call_command("audit_archive", "--month", "2019-01", "--to", str(tmp_path))

    export = tmp_path / "audit-2019-01.jsonl.gz"
    with gzip.open(export, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    assert len(rows) == 12 and all(r["occurred_at"].startswith("2019-01-20T01") for r in rows)
    assert partitions.partition_name(JANUARY) not in partitions.existing(connection)
    # Only the month left the table; the archiving itself is on record.
    assert AuditEvent.objects.count() == before - 12 + 1
    archived = AuditEvent.objects.get(action=AuditAction.AUDIT_ARCHIVED)
    assert archived.object_id == "2019-01" and archived.detail["count"] == 12
    record = AuditArchive.objects.get()
    assert json.loads(record.payload)["sha256"] == archived.detail["sha256"]

    for full in (True, False):
        report = verify(full=full)
        assert report.ok, report.reason
    assert verify_export(export) == 12
    call_command("audit_archive", "--month", "2019-02", "--to", str(tmp_path))
    assert verify(full=True).ok and verify_export(tmp_path / "audit-2019-02.jsonl.gz") == 7


def test_a_tampered_export_is_detected(as_owner, tmp_path: Path) -> None:
    _events(4, datetime(2019, 1, 20, 10, tzinfo=TOKYO))
    _events(2)
    call_command("audit_archive", "--month", "2019-01", "--to", str(tmp_path))
    export = tmp_path / "audit-2019-01.jsonl.gz"
    with gzip.open(export, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    rows[1]["action"] = "auth.login"
    with gzip.open(export, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    with pytest.raises(ArchiveError, match="SHA-256 differs"):
        verify_export(export)
    with pytest.raises(CommandError, match="SHA-256 differs"):
        call_command("audit_archive", "--check", str(export))


def test_a_month_inside_retention_stays(as_owner, tmp_path: Path, settings) -> None:
    settings.AUDIT_RETENTION_YEARS = 10  # 2019 + 10 years is after today
    _events(3, datetime(2019, 1, 20, 10, tzinfo=TOKYO))
    with pytest.raises(CommandError, match="kept in the live table until 2029-02-01"):
        call_command("audit_archive", "--month", "2019-01", "--to", str(tmp_path))
    assert partitions.partition_name(JANUARY) in partitions.existing(connection)
    assert AuditEvent.objects.count() == 3 and not list(tmp_path.iterdir())
