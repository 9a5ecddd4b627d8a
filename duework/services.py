"""Starting, stopping and sweeping clocks: the only writers of duework's rows.

Workflow services start and stop clocks inside their own transactions (after locking their
subject). The sweep claims due clocks with SELECT ... FOR UPDATE SKIP LOCKED in batches; each
batch is one transaction that fires the clocks (notifications through the outbox, one audit
event per firing) and moves their next time past `now`, so neither this sweep nor a second
one running at the same time fires a clock twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.db.models.base import ModelState
from django.db.models.functions import Cast
from django.utils import timezone

from agencies.models import Agency
from duework import kinds as registry
from duework.bulk import fetch_rows, update_levels
from duework.kinds import Firing
from duework.models import Clock, ClockState
from duework.outbox import Batch
from duework.policy import first_level, next_fire_time
from notifications.notify import agencies_with_webhook


def subject_key(subject: models.Model | None, key: str = "") -> str:
    """How a subject is named in the unique (kind, subject) index."""
    if subject is None:
        if not key:
            raise ValueError("a clock needs a subject row or a key")
        return f"key:{key}"
    return f"{subject._meta.label_lower}:{subject.pk}"


def clock_start(
    *,
    kind: str,
    subject: models.Model | None = None,
    key: str = "",
    owner_agency: Agency,
    due_at: datetime,
    policy: dict[str, Any],
    started_at: datetime | None = None,
    owner_role: str = "",
    owner_user_id: int | None = None,
    sheet_id: int | None = None,
    context: dict[str, Any] | None = None,
) -> Clock:
    """Start (or restart) the clock of `kind` on a subject: one row per (kind, subject).

    Called inside the workflow's transaction; a restarted clock starts again at level 0
    under the policy given now.
    """
    now = timezone.now()
    started = started_at or now
    skipped, next_at = first_level(policy, started_at=started, due_at=due_at, now=now)
    values: dict[str, Any] = {
        "subject_type": ContentType.objects.get_for_model(subject) if subject else None,
        "subject_id": subject.pk if subject else None,
        "owner_agency": owner_agency,
        "owner_role": owner_role,
        "owner_user_id": owner_user_id,
        "sheet_id": sheet_id,
        "context": context or {},
        "started_at": started,
        "due_at": due_at,
        "next_fire_at": next_at,
        "level": skipped,
        "fired_count": 0,
        "last_fired_at": None,
        "policy": policy,
        "state": ClockState.OPEN,
        "stopped_at": None,
        "stop_reason": "",
    }
    clock, _ = Clock.objects.update_or_create(
        kind=kind, subject_key=subject_key(subject, key), defaults=values
    )
    return clock


def clock_stop(
    *,
    kinds: tuple[str, ...] | list[str],
    subject: models.Model | None = None,
    key: str = "",
    reason: str = "",
    done: bool = True,
) -> int:
    """Stop the open clocks of `kinds` on a subject (done: the awaited step happened;
    otherwise stopped: the work went away). Returns how many."""
    now = timezone.now()
    return Clock.objects.filter(
        kind__in=list(kinds), subject_key=subject_key(subject, key), state=ClockState.OPEN
    ).update(
        state=ClockState.DONE if done else ClockState.STOPPED,
        next_fire_at=None,
        stopped_at=now,
        stop_reason=reason[:40],
        updated_at=now,
    )


def clock_move(*, kind: str, subject: models.Model, shift: timedelta) -> int:
    """Move an open clock's times by `shift` (the demo's backdating; never the workflow)."""
    return Clock.objects.filter(
        kind=kind, subject_key=subject_key(subject), state=ClockState.OPEN
    ).update(
        started_at=models.F("started_at") + shift,
        due_at=models.F("due_at") + shift,
        next_fire_at=models.F("next_fire_at") + shift,
    )


# --- the sweep ---------------------------------------------------------------------------


def _plan(clock: Clock) -> Firing | None:
    levels = (clock.policy or {}).get("levels") or []
    if not levels:
        return None
    level = clock.level + 1
    fired = min(level, len(levels))
    return Firing(clock=clock, level=level, fired=fired, spec=levels[fired - 1])


def next_time(firing: Firing, now: datetime) -> datetime | None:
    """When the clock fires next once this firing's level has fired at `now`."""
    clock = firing.clock
    return next_fire_time(
        clock.policy,
        level=firing.level,
        started_at=clock.started_at,
        due_at=clock.due_at,
        fired_at=now,
    )


_RELATIVE_ANCHORS = frozenset({"before_days", "start_hours", "due_hours"})


def _next_time_memo(now: datetime) -> Callable[[Firing], datetime | None]:
    """next_time, computed once per (calendar, delay) when the next level counts from the
    firing itself (the escalation shape: clocks under one policy fired together share it)."""
    memo: dict[tuple[Any, ...], datetime | None] = {}

    def compute(firing: Firing) -> datetime | None:
        policy = firing.clock.policy or {}
        levels = policy.get("levels") or []
        index = firing.level
        if index < len(levels) and (index == 0 or _RELATIVE_ANCHORS & set(levels[index])):
            return next_time(firing, now)  # depends on the clock's own times
        if index >= len(levels) and not policy.get("repeat_hours"):
            return None
        hours = (
            policy.get("repeat_hours")
            if index >= len(levels)
            else levels[index].get("after_hours", 0)
        )
        key = (
            policy.get("day_start"),
            policy.get("day_end"),
            tuple(policy.get("closed_days") or ()),
            hours,
        )
        if key not in memo:
            memo[key] = next_time(firing, now)
        return memo[key]

    return compute


def _fire_batch(clocks: list[Clock], now: datetime) -> int:
    """Fire the (locked) clocks; returns how many fired."""
    by_kind: dict[str, list[Firing]] = {}
    stop: list[int] = []
    next_for = _next_time_memo(now)
    for clock in clocks:
        plan = _plan(clock)
        if plan is None or registry.registered(clock.kind) is None:
            stop.append(clock.pk)
            continue
        plan.next_at = next_for(plan)
        by_kind.setdefault(clock.kind, []).append(plan)
    agency_ids = {c.owner_agency_id for c in clocks}
    for clock in clocks:
        agency_ids |= {v for k, v in clock.context.items() if k.endswith("agency_id") and v}
    batch = Batch(webhooks=agencies_with_webhook(agency_ids))
    fired: list[Firing] = []
    for name, firings in by_kind.items():
        kind = registry.registered(name)
        if kind is None:  # checked above; for the type checker
            continue
        kind.fire(firings, now=now, batch=batch)
        for firing in firings:
            if firing.result == "fired":
                fired.append(firing)
            elif firing.result == "stop":
                stop.append(firing.clock.pk)
    updated_at = timezone.now()
    for firing in fired:
        firing.clock.level, firing.clock.next_fire_at = firing.level, firing.next_at
    _advance([(f.clock.pk, f.level, f.next_at) for f in fired], now=now, updated_at=updated_at)
    if stop:
        Clock.objects.filter(pk__any=stop).update(
            state=ClockState.STOPPED,
            next_fire_at=None,
            stopped_at=updated_at,
            stop_reason="subject-closed",
            updated_at=updated_at,
        )
    batch.write()
    return len(fired)


def _advance(
    rows: list[tuple[int, int, datetime | None]], *, now: datetime, updated_at: datetime
) -> None:
    """Move the fired clocks on in one statement: (id, level fired, next time) each."""
    update_levels(
        Clock,
        rows,
        level="level",
        next_at="next_fire_at",
        values={"last_fired_at": now, "updated_at": updated_at},
        increment=["fired_count"],
    )


# What the claim reads of a clock: every field a kind reads (the others, timestamps of the
# row's own history, load on access like any deferred field).
_CLAIMED = (
    "id",
    "kind",
    "subject_type_id",
    "subject_id",
    "subject_key",
    "owner_agency_id",
    "owner_role",
    "owner_user_id",
    "sheet_id",
    "started_at",
    "due_at",
    "next_fire_at",
    "level",
    "fired_count",
    "state",
)


def _claimed(rows: Iterable[tuple[Any, ...]]) -> list[Clock]:
    """Clock instances of the claimed rows (`_CLAIMED`, then policy and context as JSON text).

    Built as Django builds a row with deferred fields, but without Model.__init__: its
    per-field setattr and its two signals cost more than firing the clock. The clocks of one
    kind under one agency kind's steps share the same policy text: it is parsed once and the
    clocks share the dict, which the sweep reads and never writes.
    """
    parsed: dict[str, Any] = {}
    clocks = []
    alias = connection.alias
    for row in rows:
        *values, policy, context = row
        clock = Clock.__new__(Clock)
        clock.__dict__.update(zip(_CLAIMED, values, strict=True))
        if policy not in parsed:
            parsed[policy] = json.loads(policy) if policy else {}
        clock.policy = parsed[policy]
        clock.context = json.loads(context) if context and context != "{}" else {}
        clock._state = ModelState()
        clock._state.adding, clock._state.db = False, alias
        clocks.append(clock)
    return clocks


def _sweep(
    *, now: datetime, batch: int, kinds: tuple[str, ...] | None, batches: int | None = None
) -> tuple[int, bool]:
    """Fire due clocks batch by batch (at most `batches`): (how many fired, whether the last
    batch was full). Each batch claims its clocks (whole rows, one query) and starts after
    the last one (keyset on next time and id), so the index entries of the rows just moved,
    and clocks skipped because their subject was locked, are not scanned again in this
    sweep."""
    total = 0
    since: tuple[datetime, int] | None = None
    done = 0
    full = False
    while batches is None or done < batches:
        with transaction.atomic():
            due = Clock.objects.select_for_update(skip_locked=True).filter(
                state=ClockState.OPEN, next_fire_at__lte=now
            )
            if kinds is not None:
                due = due.filter(kind__in=kinds)
            if since is not None:
                due = due.filter(
                    models.Q(next_fire_at__gt=since[0])
                    | models.Q(next_fire_at=since[0], id__gt=since[1])
                )
            rows = due.order_by("next_fire_at", "id").values_list(
                *_CLAIMED, Cast("policy", models.TextField()), Cast("context", models.TextField())
            )
            claimed = _claimed(fetch_rows(rows[:batch]))
            # The keyset of the claim, before the firings move the rows on.
            last = (claimed[-1].next_fire_at, claimed[-1].pk) if claimed else None
            if claimed:
                total += _fire_batch(claimed, now)
        done += 1
        full = len(claimed) == batch
        if not full or last is None or last[0] is None:
            break
        since = (last[0], last[1])
    return total, full


def sweep_due(
    *,
    now: datetime | None = None,
    batch: int = 1000,
    workers: int | None = None,
    kinds: tuple[str, ...] | None = None,
) -> int:
    """Fire every clock whose next time has come (of `kinds`, or all); returns how many fired.

    When the first batch is full (a backlog) on PostgreSQL, `workers` threads (default
    TSUNAGU["ESCALATION_SWEEP_WORKERS"]), each with its own connection, share the rest.
    Inside a caller's transaction, never.
    """
    now = now or timezone.now()
    if workers is None:
        workers = settings.TSUNAGU.get("ESCALATION_SWEEP_WORKERS", 2)
    first, backlog = _sweep(now=now, batch=batch, kinds=kinds, batches=1)
    if not backlog:
        return first
    if workers <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return first + _sweep(now=now, batch=batch, kinds=kinds)[0]
    counts: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            counts.append(_sweep(now=now, batch=batch, kinds=kinds)[0])
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)
        finally:
            connection.close()

    helpers = [threading.Thread(target=run, daemon=True) for _ in range(workers - 1)]
    for helper in helpers:
        helper.start()
    run_here = _sweep(now=now, batch=batch, kinds=kinds)[0]
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
    return first + run_here + sum(counts)
