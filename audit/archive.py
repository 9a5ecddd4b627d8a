"""Archiving a month of the audit trail: export, verify, sign, detach (PostgreSQL, as the owner).

The oldest attached month past the retention period (AUDIT_RETENTION_YEARS, never below 3)
is written to a gzip JSON Lines file (one event a line, every hashed field in its canonical
form, so the file verifies on its own), walked from where the previous archive left each
chain, and its end heads are signed (AUDIT_ANCHOR_KEY) into an AuditArchive record together
with the file's SHA-256. Only then is the month's partition detached: verification of the
live table starts from the signed heads, and `verify_export` re-checks a file against its
record at any later time. Nothing is deleted: the detached table stays until the operator
drops it, after storing the file where backups are kept (docs/operations.md).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit import anchors, chain, partitions
from audit.context import Actor, ActorKind
from audit.models import AuditAction, AuditArchive, AuditEvent
from audit.services import audit_record
from audit.verification import archived_heads, verify

SYSTEM = Actor(kind=ActorKind.SYSTEM, label="audit_archive")


class ArchiveError(Exception):
    """The month cannot be archived (yet), or an export does not match its record."""


@dataclass(frozen=True)
class Archived:
    month: date
    path: Path
    count: int
    sha256: str
    partition: str


def retained_until(month: date) -> date:
    """The first day the month may leave the live table."""
    years = max(3, int(settings.AUDIT_RETENTION_YEARS))
    end = partitions.next_month(month)
    return end.replace(year=end.year + years)


def _require_owner_on_postgres() -> None:
    if connection.vendor != "postgresql" or not partitions.is_partitioned(connection):
        raise ArchiveError("archiving needs the partitioned audit table of PostgreSQL")


def _check_month(month: date, today: date) -> str:
    name = partitions.partition_name(month)
    attached = partitions.existing(connection)
    if name not in attached:
        raise ArchiveError(f"{month:%Y-%m} has no attached partition ({name})")
    if today < retained_until(month):
        raise ArchiveError(
            f"{month:%Y-%m} is kept in the live table until {retained_until(month)} "
            f"(AUDIT_RETENTION_YEARS={settings.AUDIT_RETENTION_YEARS})"
        )
    if AuditEvent.objects.filter(occurred_at__lt=_bounds(month)[0]).exists():
        raise ArchiveError(
            f"months before {month:%Y-%m} are still in the live table: archive them first"
        )
    return name


def _canonical_row(row: tuple[Any, ...]) -> dict[str, Any]:
    named = dict(zip(chain.ROW_FIELDS, row, strict=True))
    return {name: chain.canonical_value(value) for name, value in named.items()}


def _bounds(month: date) -> tuple[datetime, datetime]:
    """The month's partition bounds: UTC midnights (the connection's time zone is UTC)."""
    return (
        datetime.combine(month, time(), UTC),
        datetime.combine(partitions.next_month(month), time(), UTC),
    )


def _export(month: date, path: Path, heads: dict[int, chain.Head]) -> tuple[int, str]:
    """Write the month's events, in id order, walking them onto `heads` (in place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    start, end = _bounds(month)
    rows = (
        AuditEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .order_by("id")
        .values_list(*chain.ROW_FIELDS)
        .iterator(chunk_size=5000)
    )
    count = 0
    with gzip.open(partial, "wt", encoding="utf-8") as out:
        for row in rows:
            walked, broken = chain.walk([row], heads)
            if broken is not None:
                raise ArchiveError(f"event {broken.event_id} does not verify: {broken.reason}")
            out.write(json.dumps(_canonical_row(row), ensure_ascii=False, sort_keys=True))
            out.write("\n")
            count += walked
    partial.replace(path)
    return count, hashlib.sha256(path.read_bytes()).hexdigest()


def archive_month(month: date, directory: Path, *, today: date | None = None) -> Archived:
    """Export, verify, sign and detach one month (the oldest attached one)."""
    _require_owner_on_postgres()
    month = partitions.month_start(month)
    name = _check_month(month, today or timezone.localdate())
    report = verify(full=False)
    if not report.ok:
        raise ArchiveError(f"the trail does not verify ({report.reason}): nothing archived")
    heads = archived_heads()
    path = directory / f"audit-{month:%Y-%m}.jsonl.gz"
    with transaction.atomic():
        # No append can land in the month while it is exported (appends go to the current month).
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {name} IN SHARE MODE")
        count, digest = _export(month, path, heads)
        payload = anchors.canonical(
            {
                "v": 1,
                "month": month.isoformat(),
                "count": count,
                "file": path.name,
                "sha256": digest,
                "heads": chain.heads_as_json(heads),
            }
        )
        AuditArchive.objects.create(
            month=month,
            payload=payload,
            signature=anchors.sign(payload),
            key_id=anchors.key_id(),
        )
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {partitions.PARENT} DETACH PARTITION {name}")
        audit_record(
            action=AuditAction.AUDIT_ARCHIVED,
            actor=SYSTEM,
            object_type="audit_month",
            object_id=f"{month:%Y-%m}",
            detail={"count": count, "sha256": digest, "file": path.name, "table": name},
        )
    return Archived(month=month, path=path, count=count, sha256=digest, partition=name)


def verify_export(path: Path) -> int:
    """Check an archive file against its signed record: the file's hash, every link from the
    previous archive's heads, and the heads it must end on. Returns the events checked."""
    records = list(AuditArchive.objects.order_by("month"))
    for index, record in enumerate(records):
        payload = json.loads(record.payload)
        if payload["file"] != path.name:
            continue
        if not anchors.hmac.compare_digest(anchors.sign(record.payload), record.signature):
            raise ArchiveError(f"archive record {record.month:%Y-%m}: signature does not verify")
        if hashlib.sha256(path.read_bytes()).hexdigest() != payload["sha256"]:
            raise ArchiveError(f"{path.name}: the file is not the one archived (SHA-256 differs)")
        heads = (
            chain.heads_from_json(json.loads(records[index - 1].payload)["heads"])
            if index
            else {}
        )
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            rows = (tuple(json.loads(line)[f] for f in chain.ROW_FIELDS) for line in lines)
            count, broken = chain.walk(rows, heads)
        if broken is not None:
            raise ArchiveError(f"{path.name}: event {broken.event_id}: {broken.reason}")
        if chain.heads_as_json(heads) != payload["heads"] or count != payload["count"]:
            raise ArchiveError(f"{path.name}: does not end on the signed heads")
        return count
    raise ArchiveError(f"{path.name}: no archive record names this file")
