"""Escalation of unacknowledged handoffs, outcome reminders and overdue digests.

Driven by the database: due rows are found through the partial index on next_escalation_at,
claimed with SELECT ... FOR UPDATE SKIP LOCKED, and moved on in the same transaction as their
audit events and outbox rows. A sweep that runs twice, or in two workers at once, escalates
each due hop once.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from agencies.models import Agency
from audit.bulk import copy_rows
from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record_many
from notifications.delivery import supervisor_emails, supervisor_emails_by_agency
from notifications.models import Channel, InAppNotification, OutboxMessage
from notifications.notify import (
    agencies_with_webhook,
    enqueue_on_commit,
    handoff_payload,
    notify_agency,
    outbox_rows,
)
from relay.business_time import default_calendar
from relay.escalation import next_after
from relay.models import Handoff
from relay.states import Status

SYSTEM = Actor.system("escalation")
DIGEST_EVENT = "digest.overdue"


def _emails(*values: str | None) -> list[str]:
    return sorted({v for v in values if v})


@dataclass
class _Batch:
    """The notifications and audit events of one sweep batch, written in bulk at the end of
    the batch's transaction, and one enqueue after its commit.

    The escalation's audit event records the notifications it queued (outbox ids and
    channels per agency told), as the issue asks: one event per escalation, not one more per
    notification.
    """

    webhooks: set[int]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)

    def notify(
        self,
        event: str,
        *,
        agency: Any,
        handoff: _Hop,
        payload: dict[str, Any],
        email_to: list[str] | None = None,
        channels: tuple[str, ...] = (Channel.EMAIL, Channel.WEBHOOK),
    ) -> dict[str, Any]:
        """Queue one agency's notification; returns what the escalation's audit event says
        of it (the agency, its outbox ids and channels)."""
        rows = outbox_rows(
            event,
            agency=agency,
            handoff=handoff,
            payload=payload,
            email_to=email_to,
            channels=channels,
            has_webhook=agency.pk in self.webhooks,
        )
        self.rows += rows
        self.notices.append({"agency_id": agency.pk, "event_type": event, "handoff_id": handoff.pk})
        return {
            "agency_id": agency.pk,
            "outbox_ids": [str(row["id"]) for row in rows],
            "channels": sorted({str(row["channel"]) for row in rows} | {"in_app"}),
        }

    def write(self) -> None:
        now = timezone.now()
        for row in self.rows:
            row.setdefault("created_at", now)
            row.setdefault("next_attempt_at", now)
        for notice in self.notices:
            notice.setdefault("created_at", now)
        copy_rows(OutboxMessage, self.rows)
        copy_rows(InAppNotification, self.notices)
        audit_record_many(self.audits)
        enqueue_on_commit([str(row["id"]) for row in self.rows])


def _policy(value: str | dict[str, Any] | None) -> dict[str, Any]:
    """A policy snapshot read as text, decoded once per distinct text, so hops that share a
    snapshot share one object (callers do not modify it). Some backends hand back the
    decoded value anyway."""
    if isinstance(value, str):
        return _decoded_policy(value)
    return value or {}


@functools.lru_cache(maxsize=64)
def _decoded_policy(text: str) -> dict[str, Any]:
    return json.loads(text) if text else {}


@dataclass(frozen=True, slots=True)
class _AgencyRef:
    pk: int
    slug: str
    intake_email: str


@dataclass(slots=True)
class _Hop:
    """What the sweep reads of a due hop (the fields handoff_payload, the audit event and
    whom to tell need): plain values, because building five model instances per hop costs
    more than escalating it."""

    pk: int
    sheet_id: int
    status: str
    urgent: bool
    sections: list[str]
    ack_due_at: datetime | None
    next_escalation_at: datetime | None
    escalation_level: int
    escalation_policy: dict[str, Any]
    receiver_notified: bool
    from_agency: _AgencyRef
    to_agency: _AgencyRef
    sent_by_email: str
    consent_id: int | None
    consent_basis: str

    @property
    def from_agency_id(self) -> int:
        return self.from_agency.pk

    @property
    def to_agency_id(self) -> int:
        return self.to_agency.pk

    @classmethod
    def load(cls, ids: list[int]) -> list[_Hop]:
        rows = (
            Handoff.objects.filter(pk__in=ids)
            # The snapshot as text: most hops share one, decoded once (_policy).
            .annotate(policy_text=Cast("escalation_policy", output_field=TextField()))
            .order_by("next_escalation_at", "id")
            .values_list(
                "id",
                "sheet_id",
                "status",
                "urgent",
                "sections",
                "ack_due_at",
                "next_escalation_at",
                "escalation_level",
                "policy_text",
                "receiver_notified",
                "from_agency_id",
                "from_agency__slug",
                "from_agency__intake_email",
                "to_agency_id",
                "to_agency__slug",
                "to_agency__intake_email",
                "sent_by__email",
                "consent_id",
                "consent__basis",
            )
        )
        return [
            cls(
                *row[:8],
                _policy(row[8]),
                row[9],
                from_agency=_AgencyRef(*row[10:13]),
                to_agency=_AgencyRef(*row[13:16]),
                sent_by_email=row[16] or "",
                consent_id=row[17],
                consent_basis=row[18] or "",
            )
            for row in rows
        ]


@dataclass(frozen=True)
class _Recipients:
    """What a batch needs to know about the agencies it tells, loaded once per batch."""

    supervisors: dict[int, list[str]]
    coordinators: dict[int, Agency]

    def of(self, agency: Any) -> list[str]:
        return self.supervisors.get(agency.pk, [])


def _notify_level(
    batch: _Batch, hop: _Hop, level: int, notify: str, known: _Recipients
) -> list[dict[str, Any]]:
    """Queue the level's notifications; returns, per agency told, what was queued."""
    event = "handoff.escalated"
    payload = handoff_payload(
        event, hop, level=level, ack_due_at=hop.ack_due_at.isoformat() if hop.ack_due_at else None
    )
    receiver, sender = hop.to_agency, hop.from_agency
    if notify == "receiver_intake":
        return [batch.notify(event, agency=receiver, handoff=hop, payload=payload)]
    if notify == "receiver_supervisors_and_sender":
        return [
            batch.notify(
                event,
                agency=receiver,
                handoff=hop,
                payload=payload,
                email_to=_emails(receiver.intake_email, *known.of(receiver)),
            ),
            batch.notify(
                event,
                agency=sender,
                handoff=hop,
                payload=payload,
                email_to=_emails(hop.sent_by_email, *known.of(sender)),
                channels=(Channel.EMAIL,),
            ),
        ]
    # The coordinator (or, when none is configured, the sender's supervisors).
    coordinator_id = hop.escalation_policy.get("coordinator_agency_id")
    target: Any = (coordinator_id and known.coordinators.get(coordinator_id)) or sender
    return [
        batch.notify(
            event,
            agency=target,
            handoff=hop,
            payload=payload,
            email_to=_emails(target.intake_email, *known.of(target)),
            channels=(Channel.EMAIL,),
        )
    ]


def _level_to_fire(hop: _Hop) -> tuple[int, int, dict[str, Any]] | None:
    """(the level counted, the level that fires, its spec); None when the policy has none.

    After the last level the count goes on (a repeat) while the level that fires stays the
    last; a receiver that could not be notified is skipped at level 1.
    """
    levels = hop.escalation_policy.get("levels") or []
    if not levels:
        return None
    level = hop.escalation_level + 1
    if level == 1 and not hop.receiver_notified and len(levels) > 1:
        level = 2  # the receiver could not be notified: go straight above it
    fired = min(level, len(levels))
    return level, fired, levels[fired - 1]


def _escalated_event(hop: _Hop, *, repeat: bool, notified: list[dict[str, Any]]) -> dict[str, Any]:
    """HANDOFF_ESCALATED, in the shape relay.audit_events.handoff_event gives every hop event, with
    the notifications the escalation queued."""
    return {
        "action": AuditAction.HANDOFF_ESCALATED,
        "actor": SYSTEM,
        "object_type": "handoff",
        "object_id": hop.pk,
        "sheet_id": hop.sheet_id,
        "recipient_agency_id": hop.to_agency_id,
        "sections": hop.sections,
        "lawful_basis": hop.consent_basis,
        "detail": {
            "status": hop.status,
            "from_agency_id": hop.from_agency_id,
            **({"consent_id": hop.consent_id} if hop.consent_id is not None else {}),
            "level": hop.escalation_level,
            "repeat": repeat,
            "told": [n["agency_id"] for n in notified],
            "notifications": notified,
            "next_escalation_at": (
                hop.next_escalation_at.isoformat() if hop.next_escalation_at else None
            ),
        },
    }


def _escalate_batch(ids: list[int], now: datetime) -> None:
    """Escalate the (locked) hops `ids`: raise each one level, queue whom that level tells,
    set the next time, and write it all in a few statements."""
    hops = _Hop.load(ids)
    plans = {hop.pk: _level_to_fire(hop) for hop in hops}
    coordinator_ids = {
        hop.escalation_policy.get("coordinator_agency_id")
        for hop in hops
        if (plan := plans[hop.pk]) and plan[2]["notify"] == "coordinator"
    } - {None}
    coordinators = Agency.objects.in_bulk(coordinator_ids)
    agency_ids = {h.to_agency_id for h in hops} | {h.from_agency_id for h in hops}
    agency_ids |= set(coordinators)
    known = _Recipients(
        supervisors=supervisor_emails_by_agency(agency_ids), coordinators=coordinators
    )
    batch = _Batch(webhooks=agencies_with_webhook(agency_ids))

    next_times: dict[tuple[int, int], datetime | None] = {}

    for hop in hops:
        plan = plans[hop.pk]
        if plan is None:
            hop.next_escalation_at = None
            continue
        level, fired, spec = plan
        notified = _notify_level(batch, hop, fired, spec["notify"], known)
        hop.escalation_level = fired
        # Hops under the same snapshot (the same decoded object, see _policy) fired at the
        # same level share their next time.
        key = (id(hop.escalation_policy), level)
        if key not in next_times:
            next_times[key] = next_after(hop.escalation_policy, level=level, fired_at=now)
        next_at = next_times[key]
        # A level configured with no delay fires at the next sweep, not again in this one.
        hop.next_escalation_at = max(next_at, now + timedelta(seconds=1)) if next_at else None
        batch.audits.append(_escalated_event(hop, repeat=level > fired, notified=notified))
    # ... so one UPDATE per (level, next time), not a CASE over the whole batch.
    groups: dict[tuple[int, datetime | None], list[int]] = {}
    for hop in hops:
        groups.setdefault((hop.escalation_level, hop.next_escalation_at), []).append(hop.pk)
    updated_at = timezone.now()
    for (level, next_at), pks in groups.items():
        Handoff.objects.filter(pk__in=pks).update(
            escalation_level=level, next_escalation_at=next_at, updated_at=updated_at
        )
    batch.write()


def escalate_due(
    *, now: datetime | None = None, batch: int = 500, workers: int | None = None
) -> int:
    """Escalate every hop whose next escalation time has come; returns how many.

    Each batch is one transaction: due ids found through the partial index on
    next_escalation_at and locked with FOR UPDATE SKIP LOCKED (a sweep running at the same
    time takes other rows), escalated, and their next time moved past `now`, so neither this
    loop nor a second sweep picks them again.

    When the first batch is full (a backlog) on PostgreSQL, `workers` threads (default
    TSUNAGU["ESCALATION_SWEEP_WORKERS"]), each with its own connection, share the rest: one
    computes while another waits on the database. Inside a caller's transaction, never.
    """
    now = now or timezone.now()
    if workers is None:
        workers = settings.TSUNAGU.get("ESCALATION_SWEEP_WORKERS", 2)
    first = _sweep(now=now, batch=batch, batches=1)
    if first < batch:
        return first
    if workers <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return first + _sweep(now=now, batch=batch)
    counts: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            counts.append(_sweep(now=now, batch=batch))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)
        finally:
            connection.close()

    helpers = [threading.Thread(target=run, daemon=True) for _ in range(workers - 1)]
    for helper in helpers:
        helper.start()
    run_here = _sweep(now=now, batch=batch)
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
    return first + run_here + sum(counts)


def _sweep(*, now: datetime, batch: int, batches: int | None = None) -> int:
    """Escalate due hops batch by batch (at most `batches`); each batch starts where the last
    one ended, so the index entries left behind by the rows just moved are not scanned
    again."""
    total = 0
    since = None
    done = 0
    while batches is None or done < batches:
        with transaction.atomic():
            due = Handoff.objects.select_for_update(skip_locked=True).filter(
                next_escalation_at__lte=now, status=Status.SENT
            )
            if since is not None:
                due = due.filter(next_escalation_at__gte=since)
            claimed = list(
                due.order_by("next_escalation_at").values_list("id", "next_escalation_at")[:batch]
            )
            if claimed:
                _escalate_batch([pk for pk, _ in claimed], now)
        total += len(claimed)
        done += 1
        if len(claimed) < batch:
            break
        since = claimed[-1][1]
    return total


def remind_missing_outcomes(*, now: datetime | None = None, batch: int = 200) -> int:
    """Closed loop: tell the sender when an accepted hop still has no outcome (once)."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            hops = list(
                Handoff.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("to_agency", "from_agency", "sent_by", "consent")
                .filter(outcome_reminder_at__lte=now, status=Status.ACCEPTED)
                .order_by("outcome_reminder_at", "id")[:batch]
            )
            for hop in hops:
                hop.outcome_reminder_at = None
                hop.save(update_fields=["outcome_reminder_at", "updated_at"])
                sender = hop.from_agency
                notify_agency(
                    "handoff.outcome_reminder",
                    agency=sender,
                    handoff=hop,
                    payload=handoff_payload("handoff.outcome_reminder", hop),
                    actor=SYSTEM,
                    email_to=_emails(sender.intake_email, hop.sent_by.email if hop.sent_by else ""),
                    channels=[Channel.EMAIL],
                )
        total += len(hops)
        if len(hops) < batch:
            return total


def send_overdue_digests(*, now: datetime | None = None) -> int:
    """One e-mail per agency listing its overdue handoffs; at most one per agency per day.

    Not on weekends and public holidays: Monday's digest lists what is still open.
    """
    now = now or timezone.now()
    local = timezone.localtime(now)
    if not default_calendar().is_business_day(local.date()):
        return 0
    today_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    overdue: dict[int, list[int]] = {}
    for agency_id, hop_id in (
        Handoff.objects.filter(status=Status.SENT, ack_due_at__lt=now)
        .order_by("to_agency_id", "ack_due_at", "id")
        .values_list("to_agency_id", "id")
    ):
        overdue.setdefault(agency_id, []).append(hop_id)
    sent = 0
    for agency_id, hop_ids in overdue.items():
        with transaction.atomic():
            # The lock makes "already sent today?" and the send one step per agency.
            agency = Agency.objects.select_for_update().get(pk=agency_id)
            already = OutboxMessage.objects.filter(
                agency=agency, event_type=DIGEST_EVENT, created_at__gte=today_start
            ).exists()
            recipients = _emails(agency.intake_email, *supervisor_emails(agency.pk))
            if already or not recipients:
                continue
            notify_agency(
                DIGEST_EVENT,
                agency=agency,
                handoff=None,
                payload={
                    "type": DIGEST_EVENT,
                    "data": {
                        "count": len(hop_ids),
                        "handoff_ids": hop_ids,
                        "url": f"{settings.SITE_URL}/",
                    },
                },
                actor=SYSTEM,
                email_to=recipients,
                channels=[Channel.EMAIL],
                in_app=False,
            )
            sent += 1
    return sent


def handoffs_mark_receiver_not_notified(*, handoff_ids: list[int]) -> int:
    """A hop's arrival could not be announced to its receiver: escalation goes over it.

    Called (through notifications.signals.receiver_not_notified) inside the delivery's
    transaction when a "handoff.sent" message fails for good or is cancelled.
    """
    return Handoff.objects.filter(pk__in=handoff_ids).update(receiver_notified=False)
