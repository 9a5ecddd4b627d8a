"""Hashing and verification of the audit chains.

hash = SHA-256(prev_hash || canonical JSON of the event's fields). Events form several
parallel chains (AUDIT_CHAINS, one on SQLite): an appender locks one chain's head row
(audit_chainhead) until its transaction ends, so inside a chain every event's prev_hash is the
hash of the event committed just before it, and its id is larger (ids are drawn while the head
is locked). Different chains append in parallel; anchors sign every chain's head at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

GENESIS_HASH = "0" * 64
# Head rows created by the migrations; AUDIT_CHAINS may use up to this many.
MAX_CHAINS = 64

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
# What the walker reads of each event, in this order.
ROW_FIELDS = ("id", "chain", "prev_hash", "hash", *HASHED_FIELDS)


def canonical_value(value: Any) -> Any:
    """A field's value as it is hashed (datetimes as UTC text with microseconds)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """The event as sorted, compact JSON: the same bytes on every database and run."""
    payload = {name: canonical_value(fields[name]) for name in HASHED_FIELDS}
    return _CANONICAL.encode(payload).encode()


# The canonical text of an event being appended, written field by field: the same bytes as
# canonical_bytes (tests/audit/test_chain.py checks it), and the detail's JSON text comes out
# of it too, so a bulk append encodes each detail once, for the hash and for the COPY.
_KEYS = tuple((name, f'"{name}":') for name in sorted(HASHED_FIELDS))


def _json_scalar(value: Any) -> str | None:
    """A str, int, None or datetime as the canonical encoder writes it; None otherwise."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is datetime:
        return '"' + canonical_value(value) + '"'
    return None


def canonical_parts(fields: dict[str, Any]) -> tuple[bytes, str]:
    """(canonical_bytes(fields), the detail's canonical JSON text)."""
    detail = _CANONICAL.encode(fields["detail"])
    parts = []
    for name, key in _KEYS:
        if name == "detail":
            text = detail
        elif name == "sections":
            text = _CANONICAL.encode(fields[name])
        else:
            scalar = _json_scalar(fields[name])
            if scalar is None:  # a type the shortcut does not know: the encoder decides
                return canonical_bytes(fields), detail
            text = scalar
        parts.append(key + text)
    return ("{" + ",".join(parts) + "}").encode(), detail


def hash_content(prev_hash: str, content: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(content)
    return digest.hexdigest()


def compute_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hash_content(prev_hash, canonical_bytes(fields))


@dataclass
class Head:
    """Where a chain stood after the last event verified in it."""

    last_id: int | None = None
    hash: str = GENESIS_HASH
    count: int = 0

    def as_json(self) -> list[Any]:
        return [self.last_id, self.hash, self.count]

    @classmethod
    def from_json(cls, value: list[Any]) -> Head:
        return cls(value[0], value[1], value[2])


def heads_as_json(heads: dict[int, Head]) -> dict[str, list[Any]]:
    return {str(k): heads[k].as_json() for k in sorted(heads)}


def heads_from_json(value: dict[str, list[Any]]) -> dict[int, Head]:
    return {int(k): Head.from_json(v) for k, v in value.items()}


@dataclass(frozen=True)
class Break:
    """The first link that does not verify."""

    event_id: int
    reason: str


@dataclass(frozen=True)
class Start:
    """Where a chain begins inside one id range of a split walk: its first event there, that
    event's prev_hash (not yet checked) and how many events of the range came before it."""

    event_id: int
    prev_hash: str
    position: int


@dataclass
class Range:
    """What the walk of one id range found: the events it verified (before its first break),
    each chain's head at its end (counts within the range) and where each chain began."""

    checked: int
    broken: Break | None
    heads: dict[int, Head]
    starts: dict[int, Start]


def join_ranges(heads: dict[int, Head], ranges: Iterable[Range]) -> tuple[int, Break | None]:
    """Join the walks of consecutive id ranges onto `heads`, in id order: each chain's first
    event in a range must link to where the chain ended before it. Returns what walk() over
    the whole would: how many verified before the first break (by id), and that break."""
    checked = 0
    for part in ranges:
        broken, at = part.broken, part.checked
        for chain, start in sorted(part.starts.items(), key=lambda item: item[1].event_id):
            if broken is not None and start.event_id > broken.event_id:
                break
            before = heads.get(chain)
            if start.prev_hash != (before.hash if before else GENESIS_HASH):
                broken, at = (
                    Break(start.event_id, "prev_hash does not match the previous event's hash"),
                    start.position,
                )
                break
        if broken is not None:
            return checked + at, broken
        for chain, head in part.heads.items():
            count = head.count + (before.count if (before := heads.get(chain)) else 0)
            heads[chain] = Head(head.last_id, head.hash, count)
        checked += part.checked
    return checked, None


def walk(rows: Iterable[tuple[Any, ...]], heads: dict[int, Head]) -> tuple[int, Break | None]:
    """Check rows (ROW_FIELDS tuples, in id order) against and onto `heads`, in place.

    Returns how many verified and the first break. Constant memory: one row at a time.
    """
    count = 0
    for row in rows:
        event_id, chain, prev_hash, stored = row[0], row[1], row[2], row[3]
        head = heads.get(chain)
        if head is None:
            head = heads[chain] = Head()
        if prev_hash != head.hash:
            return count, Break(event_id, "prev_hash does not match the previous event's hash")
        fields = dict(zip(HASHED_FIELDS, row[4:], strict=True))
        if compute_hash(prev_hash, fields) != stored:
            return count, Break(event_id, "hash does not match the event's content")
        head.last_id, head.hash, head.count = event_id, stored, head.count + 1
        count += 1
    return count, None


# --- The fast walk ----------------------------------------------------------------------------
#
# canonical_bytes is a JSON object with sorted keys. The fast walk reads each event as one
# tuple of FAST_COLUMNS (audit.verification selects them so: numbers already as JSON text,
# the time as canonical UTC text, the two JSON values as stored) and writes the canonical text
# with one format string, JSON strings escaped by json's own C encoder, `detail` and
# `sections` re-encoded canonically (cached: the same text recurs). No dict, no datetime per
# event. Where the fast text and the stored hash disagree, `reference` recomputes the event's
# hash the slow way (canonical_bytes over the loaded row) before anything is called broken:
# the fast text is an optimisation, never the judge. tests/audit/test_fast_verification.py
# checks the two texts are the same bytes.

FAST_FIELDS = tuple(sorted(HASHED_FIELDS))  # the canonical key order
FAST_COLUMNS = ("id", "chain", "prev_hash", "hash", *FAST_FIELDS)
_FAST_TEXT = (
    "{"
    + ",".join(
        f'"{name}":"%s"' if name == "occurred_at" else f'"{name}":%s' for name in FAST_FIELDS
    )
    + "}"
)


class _Canonical:
    """JSON text as stored -> its canonical text, for recurring values (bounded)."""

    LIMIT = 65_536

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        value = self.known.get(text)
        if value is None:
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            value = self.known[text] = _CANONICAL.encode(json.loads(text))
        return value


def walk_fast(
    rows: Iterable[tuple[Any, ...]],
    heads: dict[int, Head],
    reference: Callable[[int, str], str],
    starts: dict[int, Start] | None = None,
) -> tuple[int, Break | None]:
    """walk() over FAST_COLUMNS rows (see above): the same checks, the same result.

    With `starts` (a walk of one id range among several, audit.verification), a chain not in
    `heads` begins at its first event in the range: that event's prev_hash is taken as the
    head and recorded in `starts`, unchecked; whoever joins the ranges checks it against where
    the chain ended in the range before (join_ranges)."""
    if FAST_FIELDS != _UNPACKED:
        raise AssertionError("HASHED_FIELDS changed: update walk_fast's unpacking")
    count = 0
    canonical = _Canonical()
    known = canonical.known  # the cache read inline: a method call per value costs more
    text = encode_basestring  # a JSON string, as the encoder writes it (ensure_ascii=False)
    sha256 = hashlib.sha256
    for (
        event_id,
        chain,
        prev_hash,
        stored,
        action,
        actor_agency_id,
        actor_api_key_id,
        actor_kind,
        actor_label,
        actor_user_id,
        detail,
        ip,
        lawful_basis,
        object_id,
        object_type,
        occurred_at,
        recipient_agency_id,
        request_id,
        sections,
        sheet_id,
    ) in rows:
        current = heads.get(chain)
        if current is None:
            if starts is None:
                current = heads[chain] = Head()
            else:
                current = heads[chain] = Head(hash=prev_hash)
                starts[chain] = Start(event_id, prev_hash, count)
        if prev_hash != current.hash:
            return count, Break(event_id, "prev_hash does not match the previous event's hash")
        content = _FAST_TEXT % (
            text(action),
            actor_agency_id,
            actor_api_key_id,
            text(actor_kind),
            text(actor_label),
            actor_user_id,
            known.get(detail) or canonical(detail),
            "null" if ip is None else text(ip),
            text(lawful_basis),
            text(object_id),
            text(object_type),
            occurred_at,
            recipient_agency_id,
            text(request_id),
            known.get(sections) or canonical(sections),
            sheet_id,
        )
        # prev_hash equals a verified hash here (hex digits), so its UTF-8 is its ASCII.
        if (
            sha256((prev_hash + content).encode()).hexdigest() != stored
            and reference(event_id, prev_hash) != stored
        ):
            return count, Break(event_id, "hash does not match the event's content")
        current.last_id, current.hash, current.count = event_id, stored, current.count + 1
        count += 1
    return count, None


_UNPACKED = (
    "action",
    "actor_agency_id",
    "actor_api_key_id",
    "actor_kind",
    "actor_label",
    "actor_user_id",
    "detail",
    "ip",
    "lawful_basis",
    "object_id",
    "object_type",
    "occurred_at",
    "recipient_agency_id",
    "request_id",
    "sections",
    "sheet_id",
)
