"""Writing to the audit trail. Called by every service that changes or reads data.

`audit_record` appends one event inside the caller's transaction and raises if it cannot;
`audit_record_many` appends a batch (one head lock, one COPY). Both lock one chain's head
(audit.chain explains the parallel chains) until the transaction ends.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.db.models.sql import InsertQuery
from django.utils import timezone

from audit import chain
from audit.bulk import copy_rows
from audit.context import Actor, current_request
from audit.models import AuditAction, AuditEvent, ChainHead

# A process prefers "its" chain, so concurrent processes rarely meet on one head; a
# transaction that already holds a head keeps it (one chain per transaction, no lock cycles).
_PICK_HEAD = """
SELECT chain, hash FROM audit_chainhead
WHERE chain < %s
ORDER BY (xmin::text::bigint = txid_current() %% 4294967296) DESC, chain = %s DESC, random()
LIMIT 1
FOR UPDATE SKIP LOCKED
"""
_WAIT_HEAD = "SELECT chain, hash FROM audit_chainhead WHERE chain = %s FOR UPDATE"
_MOVE_HEAD = (
    "UPDATE audit_chainhead SET last_id = %s, hash = %s, count = count + %s WHERE chain = %s"
)


def chains_in_use() -> int:
    """How many chains appenders spread over (1 on SQLite, where writers are serialised)."""
    if connection.vendor != "postgresql":
        return 1
    return max(1, min(int(getattr(settings, "AUDIT_CHAINS", 16)), chain.MAX_CHAINS))


def _take_head() -> tuple[int, str]:
    """Lock a chain head for the rest of the transaction: (chain, its last hash)."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("SELECT chain, hash FROM audit_chainhead WHERE chain = 0")
            row = cursor.fetchone()
            if row is None:
                _restore_heads(1)
                return _take_head()
            return 0, row[1]
        chains = chains_in_use()
        cursor.execute(_PICK_HEAD, [chains, os.getpid() % chains])
        row = cursor.fetchone()
        if row is None:  # every head busy: wait for one (this transaction holds none)
            cursor.execute(_WAIT_HEAD, [random.randrange(chains)])  # noqa: S311 (not a secret)
            row = cursor.fetchone()
        if row is None:
            _restore_heads(chains)
            return _take_head()
    return row[0], row[1]


def _restore_heads(chains: int) -> None:
    """Recreate missing head rows from the events themselves (a flushed test database, or
    rows removed by hand): a head is only a pointer to the last event of its chain."""
    for chain_id in range(chains):
        last = (
            AuditEvent.objects.filter(chain=chain_id)
            .order_by("-id")
            .values_list("id", "hash")
            .first()
        )
        count = AuditEvent.objects.filter(chain=chain_id).count() if last else 0
        last_id, last_hash = last or (None, chain.GENESIS_HASH)
        ChainHead.objects.bulk_create(
            [ChainHead(chain=chain_id, last_id=last_id, hash=last_hash, count=count)],
            ignore_conflicts=True,
        )


def _move_head(chain_id: int, last_id: int, last_hash: str, added: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_MOVE_HEAD, [last_id, last_hash, added, chain_id])


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("audit events must be written inside the business transaction")


def audit_record(
    *,
    action: AuditAction,
    actor: Actor,
    object_type: str = "",
    object_id: int | str | None = None,
    sheet_id: int | None = None,
    recipient_agency_id: int | None = None,
    sections: Iterable[str] = (),
    lawful_basis: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    `detail` holds ids, codes and counts only: never names, initials or free text about
    the person.
    """
    _require_transaction()
    request = current_request()
    event = AuditEvent(
        action=action,
        actor_kind=str(actor.kind),
        actor_user_id=actor.user_id,
        actor_agency_id=actor.agency_id,
        actor_api_key_id=actor.api_key_id,
        actor_label=actor.label[:150],
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        sheet_id=sheet_id,
        recipient_agency_id=recipient_agency_id,
        sections=sorted(set(sections)),
        lawful_basis=lawful_basis,
        detail=detail or {},
        request_id=request.request_id,
        ip=request.ip,
    )
    fields = {name: getattr(event, name) for name in chain.HASHED_FIELDS}
    # Everything but the link is serialised before the head is locked: on PostgreSQL the
    # critical section is one statement (lock the head, finish the link, insert, move the
    # head; _append_locking_head); when no head is free, one round trip to wait for and read
    # a head, one to insert and move it.
    content = chain.canonical_bytes(fields)
    if connection.vendor == "postgresql" and _append_locking_head(event, content):
        return event
    event.chain, event.prev_hash = _take_head()
    event.hash = chain.hash_content(event.prev_hash, content)
    if connection.vendor == "postgresql":
        _insert_moving_head(event)
    else:
        event.save()
        _move_head(event.chain, event.pk, event.hash, 1)
    return event


# The whole append in one statement (PostgreSQL): pick and lock a head as _take_head does
# (_PICK_HEAD), finish the link in the database (the same SHA-256 over the previous hash's
# ASCII and the canonical bytes prepared before, as chain.hash_content), insert the event,
# move the head. The id is drawn after the head's row is locked, as in the two-step append.
_APPEND_LOCKING_HEAD = """
WITH head AS ({pick}),
event AS (
    {insert}, "chain", "prev_hash", "hash")
    SELECT {values}, head.chain, head.hash,
        encode(sha256(convert_to(head.hash, 'UTF8') || %s::bytea), 'hex')
    FROM head
    RETURNING id, chain, prev_hash, hash
)
UPDATE audit_chainhead SET last_id = event.id, hash = event.hash, count = count + 1
FROM event WHERE audit_chainhead.chain = event.chain
RETURNING event.id, event.chain, event.prev_hash, event.hash
"""
_INSERT_SHAPE = re.compile(r"^(INSERT INTO \S+ \((?:.+)\)) VALUES \((.+)\)$", re.DOTALL)


def _append_locking_head(event: AuditEvent, content: bytes) -> bool:
    """Append `event` (everything but its link set) in one round trip: the head lock, the
    link, the INSERT and the head's move. False, with nothing written, when no head was free
    (every chain busy in other transactions) or the heads are missing: the caller then takes
    the two-step path, which waits for a head or restores them.

    The database computes the hash; it is checked here against chain.hash_content before the
    event is handed back, so a link that is not today's exact hash never commits."""
    fields = [
        f
        for f in AuditEvent._meta.concrete_fields
        if f.name not in ("id", "chain", "prev_hash", "hash")
    ]
    query = InsertQuery(AuditEvent)
    query.insert_values(fields, [event])
    [(insert, params)] = query.get_compiler(connection=connection).as_sql()
    shape = _INSERT_SHAPE.match(insert)
    if shape is None:
        raise RuntimeError("Django's INSERT for the audit event changed shape")
    chains = chains_in_use()
    sql = _APPEND_LOCKING_HEAD.format(
        pick=_PICK_HEAD.strip(), insert=shape.group(1)[:-1], values=shape.group(2)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [chains, os.getpid() % chains, *params, content])
        row = cursor.fetchone()
    if row is None:
        return False
    event.pk, event.chain, event.prev_hash, event.hash = row
    if event.hash != chain.hash_content(event.prev_hash, content):
        raise RuntimeError("the database's audit link differs from chain.hash_content")
    event._state.adding = False
    event._state.db = connection.alias
    return True


def _insert_moving_head(event: AuditEvent) -> None:
    """INSERT the event and move its chain's head to it, in one statement (PostgreSQL)."""
    fields = [f for f in AuditEvent._meta.concrete_fields if f.name != "id"]
    query = InsertQuery(AuditEvent)
    query.insert_values(fields, [event])
    [(insert, params)] = query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH event AS ({insert} RETURNING id) "  # noqa: S608 (Django's own INSERT)
            "UPDATE audit_chainhead SET last_id = event.id, hash = %s, count = count + 1 "
            "FROM event WHERE chain = %s RETURNING event.id",
            [*params, event.hash, event.chain],
        )
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError(f"audit chain head {event.chain} vanished during the append")
    event.pk = row[0]
    event._state.adding = False
    event._state.db = connection.alias


def audit_record_many(records: list[dict[str, Any]]) -> int:
    """Append many events at once, inside the caller's transaction: one head lock, one bulk
    insert (COPY on PostgreSQL). Each record holds audit_record's keyword arguments; the
    rows are what audit_record writes one by one (same fields, same hashes). Returns how
    many were written."""
    if not records:
        return 0
    _require_transaction()
    request = current_request()
    occurred_at = timezone.now()
    rows = []
    contents = []
    json_text: dict[int, str] = {}
    for record in records:
        actor: Actor = record["actor"]
        object_id = record.get("object_id")
        row = {
            "occurred_at": occurred_at,
            "action": str(record["action"]),
            "actor_kind": str(actor.kind),
            "actor_user_id": actor.user_id,
            "actor_agency_id": actor.agency_id,
            "actor_api_key_id": actor.api_key_id,
            "actor_label": actor.label[:150],
            "object_type": record.get("object_type", ""),
            "object_id": "" if object_id is None else str(object_id),
            "sheet_id": record.get("sheet_id"),
            "recipient_agency_id": record.get("recipient_agency_id"),
            "sections": sorted(set(record.get("sections", ()))),
            "lawful_basis": record.get("lawful_basis", ""),
            "detail": record.get("detail") or {},
            "request_id": request.request_id,
            "ip": request.ip,
        }
        rows.append(row)
        content, detail_text = chain.canonical_parts(row)
        contents.append(content)
        json_text[id(row["detail"])] = detail_text
    chain_id, prev_hash = _take_head()
    for row, content in zip(rows, contents, strict=True):
        row["chain"] = chain_id
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = chain.hash_content(prev_hash, content)
    # The details go to the COPY as the canonical text the hash was taken over (jsonb parses
    # it the same), not encoded a second time.
    copy_rows(AuditEvent, rows, json_text=json_text)
    # The largest id of the chain is the last row just written: the head is ours.
    last_id = AuditEvent.objects.filter(chain=chain_id).aggregate(last=Max("id"))["last"]
    _move_head(chain_id, last_id, prev_hash, len(rows))
    return len(rows)


def audit_record_now(**kwargs: Any) -> AuditEvent:
    """Record an event in a transaction of its own (for reads and logins outside one)."""
    with transaction.atomic():
        return audit_record(**kwargs)


def audit_verify() -> tuple[int, chain.Break | None]:
    """Verify every chain from its first event (no anchors): how many events verified, and
    the first break. Streams rows in id order (audit.verification has the full report)."""
    heads: dict[int, chain.Head] = {}
    rows = AuditEvent.objects.order_by("id").values_list(*chain.ROW_FIELDS)
    return chain.walk(rows.iterator(chunk_size=5000), heads)
