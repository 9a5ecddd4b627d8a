"""Refused access, counted per actor, reason and minute, and written to the chain as one event
per window, so that a burst of probes is on record without flooding the chain.

The counting table (audit_refusalwindow) is a plain table the application may update; the
chain itself is only ever appended to. `flush` (beat, every 30 s) turns each finished window
into one ACCESS_REFUSED event with its count and the first targets, and removes the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.context import Actor, current_request
from audit.models import AuditAction, RefusalWindow
from audit.services import audit_record_many

MAX_TARGETS = 20


@dataclass(frozen=True)
class Counted:
    """Where a refusal landed: its window's count so far, and whether the count has just
    reached the burst threshold (the caller tells the supervisors, once per window)."""

    count: int
    burst: bool


def _actor_key(actor: Actor, ip: str | None) -> str:
    if actor.user_id is None and actor.api_key_id is None:
        return f"{actor.kind}:{ip or '-'}"  # anonymous: the address is all there is
    return f"{actor.kind}:{actor.user_id}:{actor.agency_id}:{actor.api_key_id}"


def refusal_count(
    *,
    actor: Actor,
    reason: str,
    object_type: str = "",
    object_id: int | str | None = None,
    status: int = 404,
    burst_at: int = 20,
    now: datetime | None = None,
) -> Counted:
    """Count one refusal in its window (in a transaction of its own, so the refused
    request's rollback cannot take it away)."""
    request = current_request()
    minute = (now or timezone.now()).replace(second=0, microsecond=0)
    key = _actor_key(actor, request.ip)
    target = f"{object_type}:{object_id}" if object_type else ""
    for _attempt in range(2):
        try:
            with transaction.atomic():
                window, created = RefusalWindow.objects.select_for_update().get_or_create(
                    minute=minute,
                    actor_key=key,
                    reason=reason[:64],
                    defaults={
                        "actor_kind": str(actor.kind),
                        "actor_user_id": actor.user_id,
                        "actor_agency_id": actor.agency_id,
                        "actor_api_key_id": actor.api_key_id,
                        "actor_label": actor.label[:150],
                        "count": 1,
                        "targets": [target] if target else [],
                        "status": status,
                        "request_id": request.request_id,
                        "ip": request.ip,
                    },
                )
                burst = False
                if not created:
                    window.count += 1
                    if target and len(window.targets) < MAX_TARGETS:
                        window.targets.append(target)
                if window.count >= burst_at and not window.burst_notified:
                    window.burst_notified = burst = True
                if not created:
                    window.save(update_fields=["count", "targets", "burst_notified"])
                elif burst:
                    window.save(update_fields=["burst_notified"])
                return Counted(window.count, burst)
        except IntegrityError:  # two first refusals of a window at once: count again
            if connection.in_atomic_block and connection.needs_rollback:
                raise
    return Counted(0, False)


def flush(*, now: datetime | None = None) -> int:
    """One ACCESS_REFUSED event per finished window (actor, reason, minute); returns how many."""
    now = now or timezone.now()
    current = now.replace(second=0, microsecond=0)
    written = 0
    while True:
        with transaction.atomic():
            windows = list(
                RefusalWindow.objects.select_for_update(skip_locked=True)
                .filter(minute__lt=current)
                .order_by("minute", "id")[:500]
            )
            if not windows:
                return written
            audit_record_many([_event(w) for w in windows])
            RefusalWindow.objects.filter(pk__in=[w.pk for w in windows]).delete()
        written += len(windows)


def flush_all() -> int:
    """Flush every window, the current minute's too (tests and shutdown)."""
    return flush(now=timezone.now() + timedelta(minutes=1))


def _event(window: RefusalWindow) -> dict[str, object]:
    first = window.targets[0] if window.targets else ":"
    object_type, _, object_id = first.partition(":")
    return {
        "action": AuditAction.ACCESS_REFUSED,
        "actor": Actor(
            kind=window.actor_kind,  # type: ignore[arg-type]
            user_id=window.actor_user_id,
            agency_id=window.actor_agency_id,
            api_key_id=window.actor_api_key_id,
            label=window.actor_label,
        ),
        "object_type": object_type,
        "object_id": object_id,
        "detail": {
            "reason": window.reason,
            "count": window.count,
            "status": window.status,
            "minute": window.minute.isoformat(),
            "targets": window.targets,
            "first_request_id": window.request_id,
            "ip": window.ip,
            "burst": window.burst_notified,
        },
    }
