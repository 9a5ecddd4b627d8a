"""Hashing and verification of the audit chain.

hash = SHA-256(prev_hash || canonical JSON of the event's fields). Appends are serialised
(a transaction-scoped advisory lock on PostgreSQL; IMMEDIATE transactions on SQLite), so
every event's prev_hash is the hash of the event committed just before it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the advisory lock that serialises appends ("TSUNAGU" in hex-ish).
ADVISORY_LOCK_KEY = 0x75A6A9_0001

HASHED_FIELDS = (
    "occurred_at",
    "action",
    "actor_kind",
    "actor_user_id",
    "actor_agency_id",
    "actor_api_key_id",
    "actor_label",
    "object_type",
    "object_id",
    "sheet_id",
    "recipient_agency_id",
    "sections",
    "lawful_basis",
    "detail",
    "request_id",
    "ip",
)


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """The event as sorted, compact JSON: the same bytes on every database and run."""
    payload = {name: _canonical_value(fields[name]) for name in HASHED_FIELDS}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_bytes(fields))
    return digest.hexdigest()


def lock_chain() -> None:
    """Serialise appenders until the current transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])


@dataclass(frozen=True)
class Break:
    """The first link that does not verify."""

    event_id: int
    reason: str


def verify(rows: Iterator[dict[str, Any]]) -> tuple[int, Break | None]:
    """Walk events in id order; return how many verified and the first break, if any."""
    expected_prev = GENESIS_HASH
    count = 0
    for row in rows:
        if row["prev_hash"] != expected_prev:
            return count, Break(row["id"], "prev_hash does not match the previous event's hash")
        if compute_hash(row["prev_hash"], row) != row["hash"]:
            return count, Break(row["id"], "hash does not match the event's content")
        expected_prev = row["hash"]
        count += 1
    return count, None
