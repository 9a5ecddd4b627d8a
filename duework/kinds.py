"""What the engine needs of a clock kind: how to fire a batch of its due clocks.

Apps above duework register their kinds from `AppConfig.ready()` (duework imports none of
them). A kind locks its subjects with SKIP LOCKED (a workflow transaction that holds a subject
is never waited for: its clock fires at the next sweep), decides for each due clock whether
it fires, is skipped for now, or stops (its subject no longer waits for anyone), and queues
whom the level tells and the audit event on the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from duework.models import Clock
from duework.outbox import Batch

Result = Literal["fired", "skip", "stop"]


@dataclass
class Firing:
    """One due clock in a sweep: the level counted (a repeat counts on), the level that
    fires, its spec, and what the kind decided."""

    clock: Clock
    level: int
    fired: int
    spec: dict[str, Any]
    result: Result = "skip"
    told: list[dict[str, Any]] = field(default_factory=list)
    # When the level after this one fires (None: never); the engine sets it before the kind
    # fires, a kind that changes `level` recomputes it (duework.policy.next_fire_time).
    next_at: datetime | None = None

    @property
    def repeat(self) -> bool:
        return self.level > self.fired


class ClockKind(Protocol):
    """A kind of clock: its name and how a batch of its due clocks fires."""

    @property
    def kind(self) -> str:
        """The clock kind's name (Clock.kind)."""
        ...

    def fire(self, firings: list[Firing], *, now: datetime, batch: Batch) -> None:
        """Set each firing's result, queue its notifications and its audit event."""
        ...


_KINDS: dict[str, ClockKind] = {}


def register(kind: ClockKind) -> None:
    """Make `kind` known to the sweep (called from an app's ready())."""
    _KINDS[kind.kind] = kind


def registered(name: str) -> ClockKind | None:
    return _KINDS.get(name)


def registered_names() -> list[str]:
    return sorted(_KINDS)
