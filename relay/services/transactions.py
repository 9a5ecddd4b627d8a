"""How every workflow transaction is opened: one lock order, and a bounded retry.

Lock order (docs/architecture.md, "Lock order"). A workflow transaction takes its row locks in
this order and never the other way round:

  1. the sheet (`ReferralSheet`, FOR UPDATE)            - lock_sheet()
  2. the sheet's consent records (FOR UPDATE, newest first, as consent.policy loads them)
  3. the hops of the sheet it changes (FOR UPDATE, by id)
  4. rows it inserts or deletes that point at 1-3 (provisions, notes, access rows, outbox):
     their foreign-key checks are made IMMEDIATE, so the KEY SHARE locks they take happen
     here, under the locks above, and not at COMMIT after the audit head is held
  5. the audit chain head, last (audit.services; SKIP LOCKED, so it never waits on a head
     while holding one)

A hop's transition locks the sheet before the hop even when it changes only the hop, so a
send, a cancellation and a withdrawal of the same sheet queue on one row instead of meeting
in a cycle.

Retry: PostgreSQL can still abort one side of a race with a deadlock (40P01) or a
serialization failure (40001). The outermost workflow transaction is retried a bounded number
of times with a short jittered pause; inside an enclosing transaction (an API view's If-Match
lock, a test's transaction) nothing is retried and the error goes to the outer caller, which
is the only one that can start the work again.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DatabaseError, connection, transaction

from relay.models import ReferralSheet

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
MAX_ATTEMPTS = 5
_BASE_PAUSE = 0.02


def is_retryable(exc: BaseException) -> bool:
    """A deadlock or serialization failure reported by PostgreSQL (psycopg's sqlstate)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return True
        if getattr(current, "pgcode", None) in RETRYABLE_SQLSTATES:
            return True
        current = current.__cause__ or current.__context__
    return False


def immediate_checks() -> None:
    """Check foreign keys as rows are written (step 4 of the lock order), not at COMMIT."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def lock_sheet(sheet_id: int) -> None:
    """Step 1 of the lock order."""
    ReferralSheet.objects.select_for_update().filter(pk=sheet_id).values_list("pk").first()


def retry_on_conflict(func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` again (up to MAX_ATTEMPTS in all) if its transaction was chosen as the
    victim of a deadlock or a serialization failure; only at the outermost level."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except DatabaseError as exc:
                if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                    raise
                log.warning(
                    "workflow transaction retried",
                    extra={"function": func.__name__, "attempt": attempt},
                )
                pause = _BASE_PAUSE * (2 ** (attempt - 1))
                time.sleep(pause + random.uniform(0, pause))  # noqa: S311 (jitter, not a secret)
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


def workflow_transaction(func: Callable[P, R]) -> Callable[P, R]:
    """A workflow service: one transaction, immediate FK checks, retried on conflict."""

    @functools.wraps(func)
    def atomic(*args: P.args, **kwargs: P.kwargs) -> R:
        with transaction.atomic():
            immediate_checks()
            return func(*args, **kwargs)

    return retry_on_conflict(atomic)
