"""Verifying the audit chains: incrementally from the last verified heads, or in full, and
always against the newest signed anchor outside the database.

Incremental: each chain is read from the event after its last verified one, through the
(chain, id) index; inside a chain ids grow in commit order (the head is locked while the id
is drawn), so nothing can appear behind a verified head. The verified heads must still be
there, and the newest external anchor's heads must be present with the signed hashes: a hash
commits to every event before it in its chain, so a deleted tail, a replaced history or an
older backup shows as a missing or differing anchored event.

Full: one server-side cursor over the whole table in id order, a batch at a time (constant
memory), every link checked from genesis (or from the signed heads of archived months), and
every line of every anchor file checked for its signature.

The outcome is stored (VerificationStatus) for the supervisor page, which never walks.
"""

from __future__ import annotations

import multiprocessing
import queue
import re
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from audit import anchors, chain
from audit.models import AuditAnchor, AuditArchive, AuditEvent, ChainHead, VerificationStatus
from audit.services import chains_in_use

BATCH = 5000


@dataclass
class Report:
    """What a verification run found."""

    ok: bool
    full: bool
    heads: dict[int, chain.Head]
    checked: int = 0
    broken_id: int | None = None
    reason: str = ""
    anchor: anchors.Anchor | None = None
    anchor_id: int | None = None
    duration_ms: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(h.count for h in self.heads.values())

    @property
    def last_id(self) -> int | None:
        ids = [h.last_id for h in self.heads.values() if h.last_id is not None]
        return max(ids) if ids else None


def _rows(queryset):  # type: ignore[no-untyped-def]
    return queryset.order_by("id").values_list(*chain.ROW_FIELDS).iterator(chunk_size=BATCH)


# The fast walk's rows (audit.chain.walk_fast), FAST_COLUMNS in order: numbers as JSON text
# (null when empty), the time as canonical_value writes it, the rest as stored.
_FAST_SELECT = {
    "occurred_at": """to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
    "ip": "host(ip)",
    "detail": "detail::text",
    "sections": "sections::text",
    **{
        name: f"coalesce({name}::text, 'null')"
        for name in (
            "actor_user_id",
            "actor_agency_id",
            "actor_api_key_id",
            "sheet_id",
            "recipient_agency_id",
        )
    },
}
_FAST_COLUMNS_SQL = ", ".join(_FAST_SELECT.get(name, name) for name in chain.FAST_COLUMNS)
_FAST_SQL = (
    f"SELECT {_FAST_COLUMNS_SQL} FROM audit_auditevent "  # noqa: S608 (constant names)
    "WHERE id > %s AND id <= %s AND (%s::smallint IS NULL OR chain = %s::smallint) ORDER BY id"
)
_NO_END = 2**63 - 1


def _reference_hash(event_id: int, prev_hash: str) -> str:
    """The event's hash computed the slow way, from its loaded row (canonical_bytes)."""
    row = AuditEvent.objects.filter(pk=event_id).values_list(*chain.HASHED_FIELDS).first()
    if row is None:
        return ""
    return chain.compute_hash(prev_hash, dict(zip(chain.HASHED_FIELDS, row, strict=True)))


def _stream_fast(
    after: int, chain_id: int | None, upto: int = _NO_END
) -> Generator[tuple[Any, ...]]:
    """The events in (after, upto] (of one chain, or all) in id order, through a server-side
    cursor a batch at a time: constant memory, whatever the table's size.

    A reader thread fetches the next batches while the caller hashes this one, so PostgreSQL
    (which writes the rows' text) and the walk (which hashes them) work at the same time
    instead of taking turns; at most PREFETCH batches wait in between. The thread only reads
    rows: every check stays in the walk."""
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(_FAST_SQL, [after, upto, chain_id, chain_id])
        with closing(_Prefetch(cursor.cursor)) as batches:
            for batch in batches:
                yield from batch


PREFETCH = 3


class _Prefetch:
    """Batches of a server-side cursor, fetched by a thread ahead of the consumer."""

    def __init__(self, raw_cursor: Any) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=PREFETCH)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._fetch, args=(raw_cursor,), daemon=True)
        self.thread.start()

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _fetch(self, raw_cursor: Any) -> None:
        try:
            while batch := raw_cursor.fetchmany(BATCH):
                if not self._put(batch):
                    return
            self._put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def __iter__(self) -> Iterator[list[tuple[Any, ...]]]:
        while (item := self.queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the reader (the consumer broke off, or finished) before the cursor closes."""
        self.stop.set()
        self.thread.join()


def _walk(
    heads: dict[int, chain.Head], *, after: int = 0, chain_id: int | None = None
) -> tuple[int, chain.Break | None]:
    """Walk the events after `after` (one chain or all) onto `heads`: the fast walk on
    PostgreSQL, the model walk elsewhere (SQLite: tests and development)."""
    if connection.vendor == "postgresql":
        with closing(_stream_fast(after, chain_id)) as rows:  # ends the cursor on a break
            return chain.walk_fast(rows, heads, _reference_hash)
    events = AuditEvent.objects.filter(id__gt=after)
    if chain_id is not None:
        events = events.filter(chain=chain_id)
    return chain.walk(_rows(events), heads)


# A split full walk: below this many ids, starting the processes costs more than it saves.
SPLIT_MIN = 100_000
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


def _walk_split(heads: dict[int, chain.Head], workers: int) -> tuple[int, chain.Break | None]:
    """The full walk in `workers` processes at once, each over one consecutive id range of the
    same snapshot (every chain in each range), joined in id order (chain.join_ranges): the
    same checks and the same first break as one walk, on as many cores.

    The ranges share one exported snapshot (REPEATABLE READ), so together they read exactly
    what one walk started now would. Each process opens its own connection (the parent's is
    closed before the fork: a session cannot be shared) and sends back only its heads and
    where each chain began in its range: memory stays constant."""
    holder = connections.create_connection(DEFAULT_DB_ALIAS)  # holds the snapshot, unshared
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot(), min(id), max(id) FROM audit_auditevent")
            snapshot, low, high = cursor.fetchone()
        if low is None or high - low < SPLIT_MIN or not _SNAPSHOT_ID.fullmatch(snapshot):
            return _walk(heads)
        bounds = [low - 1 + (high - low + 1) * k // workers for k in range(workers + 1)]
        connection.close()  # each process opens its own session
        context = multiprocessing.get_context("fork")
        pipes, processes = [], []
        for k in range(workers):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=_range_process, args=(snapshot, bounds[k], bounds[k + 1], send)
            )
            process.start()
            send.close()
            pipes.append(receive)
            processes.append(process)
        try:
            results = [_received(receive) for receive in pipes]
        finally:
            for process in processes:
                process.join()
    finally:
        holder.close()
    return chain.join_ranges(heads, results)


def _received(receive: Any) -> Any:
    try:
        result = receive.recv()
    except EOFError as exc:
        raise RuntimeError("a verification process ended without a result") from exc
    if isinstance(result, str):
        raise RuntimeError(f"a verification process failed: {result}")
    return result


def _range_process(snapshot: str, after: int, upto: int, send: Any) -> None:
    """In a forked process: walk the ids (after, upto] in the parent's snapshot, send what it
    found (chain.Range) or the error's text."""
    try:
        send.send(_walk_range(snapshot, after, upto))
    except BaseException as exc:  # the parent raises it
        send.send(f"{type(exc).__name__}: {exc}")
    finally:
        send.close()
        connection.close()


def _walk_range(snapshot: str, after: int, upto: int) -> chain.Range:
    heads: dict[int, chain.Head] = {}
    starts: dict[int, chain.Start] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # checked: hex and dashes
        with closing(_stream_fast(after, None, upto)) as rows:
            checked, broken = chain.walk_fast(rows, heads, _reference_hash, starts)
    return chain.Range(checked, broken, heads, starts)


def archived_heads() -> dict[int, chain.Head]:
    """Where the archived months left each chain (signed, like anchors); empty if none."""
    last = AuditArchive.objects.order_by("-month").first()
    if last is None:
        return {}
    if not anchors.hmac.compare_digest(anchors.sign(last.payload), last.signature):
        raise anchors.AnchorError(f"archive record {last.month:%Y-%m}: signature does not verify")
    payload = anchors.json.loads(last.payload)
    return chain.heads_from_json(payload["heads"])


def _chains(heads: dict[int, chain.Head]) -> list[int]:
    known = set(heads) | set(range(chains_in_use()))
    known |= set(ChainHead.objects.filter(count__gt=0).values_list("chain", flat=True))
    return sorted(known)


def _first_gap(after: int | None, upto: int) -> int:
    """The first id in (after, upto] that no event has: where a deleted tail begins."""
    start = (after or 0) + 1
    present = set(
        AuditEvent.objects.filter(id__gte=start, id__lte=upto).values_list("id", flat=True)
    )
    return next((i for i in range(start, upto + 1) if i not in present), upto)


def _check_present(heads: dict[int, chain.Head], what: str) -> chain.Break | None:
    """Each head's last event is still in the table with the same hash, in the same chain."""
    for chain_id, head in sorted(heads.items()):
        if head.last_id is None:
            continue
        row = AuditEvent.objects.filter(pk=head.last_id).values_list("chain", "hash").first()
        if row is None:
            before = (
                AuditEvent.objects.filter(chain=chain_id, id__lt=head.last_id)
                .order_by("-id")
                .values_list("id", flat=True)
                .first()
            )
            first = _first_gap(before, head.last_id)
            return chain.Break(
                first,
                f"event {head.last_id} ({what}, chain {chain_id}, {head.count} events) is "
                f"missing: the chain now ends at {before or 'its start'}; "
                f"first missing id {first}",
            )
        if row != (chain_id, head.hash):
            return chain.Break(head.last_id, f"event {head.last_id} differs from {what}")
    return None


def _check_anchor(anchor: anchors.Anchor, heads: dict[int, chain.Head]) -> chain.Break | None:
    """The anchor's heads are present and the walk reached them."""
    live = _not_archived(anchor.heads)
    broken = _check_present(live, f"anchored by {anchor.label()}")
    if broken is not None:
        return broken
    for chain_id, head in live.items():
        reached = heads.get(chain_id)
        if reached is None or (reached.last_id or 0) < (head.last_id or 0):
            return chain.Break(
                head.last_id or 0,
                f"the chain {chain_id} does not reach event {head.last_id} anchored by "
                f"{anchor.label()}",
            )
    return None


def _walk_full(report: Report, workers: int) -> None:
    report.heads = archived_heads()
    if workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        report.checked, broken = _walk_split(report.heads, workers)
    else:
        report.checked, broken = _walk(report.heads)
    if broken:
        report.ok, report.broken_id, report.reason = False, broken.event_id, broken.reason


def _not_archived(heads: dict[int, chain.Head]) -> dict[int, chain.Head]:
    """The heads still in the live table (a chain whose last event was archived is not)."""
    archived = archived_heads()
    return {
        k: h
        for k, h in heads.items()
        if not (k in archived and (h.last_id or 0) <= (archived[k].last_id or 0))
    }


def _walk_new(report: Report, start: dict[int, chain.Head]) -> None:
    report.heads = {k: chain.Head(h.last_id, h.hash, h.count) for k, h in start.items()}
    broken = _check_present(_not_archived(start), "verified earlier")
    if broken is None:
        for chain_id in _chains(report.heads):
            head = report.heads.setdefault(chain_id, chain.Head())
            checked, broken = _walk({chain_id: head}, after=head.last_id or 0, chain_id=chain_id)
            report.checked += checked
            if broken:
                break
    if broken:
        report.ok, report.broken_id, report.reason = False, broken.event_id, broken.reason


def verify(*, full: bool = False, store: bool = True, workers: int = 1) -> Report:
    """Verify the chains (incrementally unless `full` or no good run is stored), check them
    against the newest external anchor, and store the outcome. A full walk on PostgreSQL
    splits the ids over `workers` processes (verify_audit --full; not inside a transaction)."""
    started = time.monotonic()
    status = VerificationStatus.objects.filter(pk=1).first()
    full = full or status is None or not status.ok
    report = Report(ok=True, full=full, heads={})
    try:
        if full or status is None:
            _walk_full(report, workers)
        else:
            _walk_new(report, chain.heads_from_json(status.heads))
        if report.ok:
            _against_anchors(report, every_line=full)
    except anchors.AnchorError as exc:
        report.ok, report.reason = False, str(exc)
    report.duration_ms = int((time.monotonic() - started) * 1000)
    if store:
        _store(report, status)
    return report


def _against_anchors(report: Report, *, every_line: bool) -> None:
    external = anchors.external_anchors(every_line=True) if every_line else []
    latest = anchors.latest_external()
    if latest is None:
        stored = AuditAnchor.objects.count()
        if stored:
            report.ok = False
            report.reason = (
                f"{stored} anchors in the database but none in {anchors.anchor_dir()}: "
                "restore the anchor directory, or this database is not the one anchored there"
            )
        else:
            report.notes.append("no external anchor yet")
        return
    report.anchor = latest
    for anchor in [*external, latest]:
        broken = _check_anchor(anchor, report.heads)
        if broken:
            report.ok, report.broken_id, report.reason = False, broken.event_id, broken.reason
            return


def _store(report: Report, previous: VerificationStatus | None) -> None:
    # A failed run keeps the heads of the last good one: the next run walks in full.
    heads = report.heads
    if not report.ok:
        heads = chain.heads_from_json(previous.heads) if previous else {}
    with transaction.atomic():
        VerificationStatus.objects.update_or_create(
            pk=1,
            defaults={
                "checked_at": timezone.now(),
                "ok": report.ok,
                "full": report.full,
                "count": report.count,
                "last_id": report.last_id,
                "heads": chain.heads_as_json(heads),
                "broken_id": report.broken_id,
                "reason": report.reason[:300],
                "anchor_id": report.anchor_id,
                "checked_events": report.checked,
                "duration_ms": report.duration_ms,
            },
        )


def stored_status() -> VerificationStatus | None:
    """The outcome of the last run, as stored (what the supervisor page shows)."""
    return VerificationStatus.objects.filter(pk=1).first()


def checkpoint(*, at: datetime | None = None) -> tuple[Report, AuditAnchor | None]:
    """Verify what is new, then sign its heads into the database and the anchor directory.
    Nothing is signed over a chain that does not verify."""
    report = verify(full=False)
    if not report.ok:
        return report, None
    at = at or timezone.now()
    text = anchors.canonical(anchors.payload_for(report.heads, at))
    signature = anchors.sign(text)
    with transaction.atomic():
        anchor = AuditAnchor.objects.create(
            created_at=at,
            last_id=report.last_id,
            count=report.count,
            payload=text,
            signature=signature,
            key_id=anchors.key_id(),
        )
    anchors.append_external(text, signature, at)
    VerificationStatus.objects.filter(pk=1).update(anchor_id=anchor.pk)
    report.anchor_id = anchor.pk
    return report, anchor
