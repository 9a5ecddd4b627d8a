"""The hop clocks on the due-work engine (duework/): acknowledgment escalation, the
receiver's decision, the supervisors' approval queue, the outcome and the monthly progress
update of an accepted hop; and the daily overdue digest.

Each hop clock is a duework Clock row (started and stopped by relay.escalation.clocks_follow
in the workflow's transactions); the one sweep (duework.services.sweep_due) claims due clocks
with SKIP LOCKED and calls the kinds below, which lock their hops with SKIP LOCKED too (a hop
held by a workflow transaction fires at the next sweep, so the sweep never waits and cannot
deadlock with the workflow), check the hop still waits, queue whom the level tells, and keep
the hop's escalation columns (shown on screens and in the API) in step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from agencies.models import Agency
from audit.context import Actor
from audit.models import AuditAction
from consent.models import ConsentStatus
from duework import policy as clocks
from duework.bulk import fetch_rows, update_levels
from duework.generic import GenericKind
from duework.kinds import Firing, register
from duework.models import Clock
from duework.outbox import Batch
from duework.outbox import emails as _emails
from duework.services import sweep_due
from notifications.delivery import supervisor_emails, supervisor_emails_by_agency
from notifications.models import Channel, OutboxMessage
from notifications.notify import handoff_payload, notify_agency
from relay.business_time import default_calendar
from relay.models import Handoff
from relay.states import Status

SYSTEM = Actor.system("escalation")
DIGEST_EVENT = "digest.overdue"

# The event each hop clock's notifications carry.
EVENTS = {
    clocks.HANDOFF_ACK: "handoff.escalated",
    clocks.HANDOFF_DECISION: "handoff.decision_overdue",
    clocks.HANDOFF_APPROVAL: "handoff.approval_waiting",
    clocks.HANDOFF_PROGRESS: "handoff.progress_due",
}
OUTCOME_DUE_EVENT = "handoff.outcome_due"  # to the receiver, who records the outcome
OUTCOME_REMINDER_EVENT = "handoff.outcome_reminder"  # to the sender, when it is late
# The state a hop must still be in for its clock to fire.
WAITING = {
    clocks.HANDOFF_ACK: Status.SENT,
    clocks.HANDOFF_DECISION: Status.ACKNOWLEDGED,
    clocks.HANDOFF_APPROVAL: Status.AWAITING_APPROVAL,
    clocks.HANDOFF_OUTCOME: Status.ACCEPTED,
    clocks.HANDOFF_PROGRESS: Status.ACCEPTED,
}


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
    def lock(cls, ids: list[int]) -> dict[int, _Hop]:
        """Lock the hops (SKIP LOCKED: one a workflow transaction holds is left out) and read
        them, in one query."""
        query = Handoff.objects.select_for_update(skip_locked=True, of=("self",))
        rows = query.filter(pk__any=ids).values_list(
            "id",
            "sheet_id",
            "status",
            "urgent",
            Cast("sections", TextField()),
            "ack_due_at",
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
        return {
            row[0]: cls(
                pk=row[0],
                sheet_id=row[1],
                status=row[2],
                urgent=row[3],
                sections=json.loads(row[4]),
                ack_due_at=row[5],
                receiver_notified=row[6],
                from_agency=_AgencyRef(*row[7:10]),
                to_agency=_AgencyRef(*row[10:13]),
                sent_by_email=row[13] or "",
                consent_id=row[14],
                consent_basis=row[15] or "",
            )
            for row in fetch_rows(rows)
        }


@dataclass(frozen=True)
class _Recipients:
    """What a batch needs to know about the agencies and people it tells, loaded once."""

    supervisors: dict[int, list[str]]
    coordinators: dict[int, Agency]
    users: dict[int, str]

    def of(self, agency: Any) -> list[str]:
        return self.supervisors.get(agency.pk, [])


def coordinator_url() -> str:
    """The ward coordinator's view: where a coordinator told of a hop reads about it (the
    hop itself is not theirs to open)."""
    return settings.SITE_URL + getattr(settings, "TSUNAGU_COORDINATOR_PATH", "/coordinator/")


def _notify_level(
    batch: Batch, firing: Firing, hop: _Hop, known: _Recipients
) -> list[dict[str, Any]]:
    """Queue the level's notifications; returns, per agency told, what was queued."""
    clock = firing.clock
    notify = firing.spec.get("notify", "")
    receiver, sender = hop.to_agency, hop.from_agency
    if clock.kind == clocks.HANDOFF_OUTCOME:
        event = OUTCOME_REMINDER_EVENT if notify == "sender" else OUTCOME_DUE_EVENT
    else:
        event = EVENTS[clock.kind]
    extra: dict[str, Any] = {"level": firing.fired}
    if clock.kind == clocks.HANDOFF_ACK:
        extra["ack_due_at"] = hop.ack_due_at.isoformat() if hop.ack_due_at else None
    else:
        extra["due_at"] = clock.due_at.isoformat()
    payload = handoff_payload(event, hop, **extra)

    def tell(agency: Any, to: list[str] | None, *, email_only: bool = False) -> dict[str, Any]:
        channels = (Channel.EMAIL,) if email_only else (Channel.EMAIL, Channel.WEBHOOK)
        return batch.notify(
            event, agency=agency, handoff=hop, payload=payload, email_to=to, channels=channels
        )

    if notify == "receiver_intake":
        return [tell(receiver, None)]
    if notify == "receiver_supervisors_and_sender":
        return [
            tell(receiver, _emails(receiver.intake_email, *known.of(receiver))),
            tell(sender, _emails(hop.sent_by_email, *known.of(sender)), email_only=True),
        ]
    if notify == "receiver_supervisors":
        to = _emails(*known.of(receiver)) or _emails(receiver.intake_email)
        return [tell(receiver, to, email_only=True)]
    if notify == "sender":
        return [tell(sender, _emails(hop.sent_by_email, sender.intake_email), email_only=True)]
    if notify == "approver":
        approver = known.users.get(clock.owner_user_id or 0, "")
        return [tell(sender, _emails(approver) or known.of(sender), email_only=True)]
    if notify == "other_supervisors":
        approver = known.users.get(clock.owner_user_id or 0, "")
        others = [e for e in known.of(sender) if e != approver] or known.of(sender)
        return [tell(sender, others, email_only=True)]
    # The coordinator (or, when none is configured, the sender's supervisors): linked to the
    # coordinator's view, which it may open, not to the hop, which it may not.
    coordinator_id = clock.policy.get("coordinator_agency_id") or clock.context.get(
        "coordinator_agency_id"
    )
    coordinator = coordinator_id and known.coordinators.get(coordinator_id)
    target: Any = coordinator or sender
    if coordinator:
        payload = handoff_payload(event, hop, **extra, url=coordinator_url())
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


def _hop_event(firing: Firing, hop: _Hop) -> dict[str, Any]:
    """The firing's audit event, in the shape relay.audit_events.handoff_event gives every hop
    event, with the notifications it queued: HANDOFF_ESCALATED for the acknowledgment clock
    (as before the engine), CLOCK_FIRED with the kind for the others."""
    clock = firing.clock
    detail: dict[str, Any] = {
        "status": hop.status,
        "from_agency_id": hop.from_agency_id,
        **({"consent_id": hop.consent_id} if hop.consent_id is not None else {}),
        "level": firing.fired,
        "repeat": firing.repeat,
        "told": [n["agency_id"] for n in firing.told],
        "notifications": firing.told,
    }
    if clock.kind == clocks.HANDOFF_ACK:
        action = AuditAction.HANDOFF_ESCALATED
        detail["next_escalation_at"] = firing.next_at.isoformat() if firing.next_at else None
    else:
        action = AuditAction.CLOCK_FIRED
        detail.update(
            kind=clock.kind,
            clock_id=clock.pk,
            due_at=clock.due_at.isoformat(),
            next_fire_at=firing.next_at.isoformat() if firing.next_at else None,
        )
    return {
        "action": action,
        "actor": SYSTEM,
        "object_type": "handoff",
        "object_id": hop.pk,
        "sheet_id": hop.sheet_id,
        "recipient_agency_id": hop.to_agency_id,
        "sections": hop.sections,
        "lawful_basis": hop.consent_basis,
        "detail": detail,
    }


@dataclass(frozen=True)
class HopClockKind:
    """A clock on a hop: fires while the hop is still in the state it waits on."""

    kind: str

    def fire(self, firings: list[Firing], *, now: datetime, batch: Batch) -> None:
        ids = [f.clock.subject_id for f in firings if f.clock.subject_id is not None]
        # SKIP LOCKED: a hop a workflow transaction holds is decided at the next sweep.
        hops = _Hop.lock(ids)
        missing = set(ids) - set(hops)
        existing = set(hops) | (
            set(Handoff.objects.filter(pk__in=missing).values_list("id", flat=True))
            if missing
            else set()
        )
        live = [f for f in firings if f.clock.subject_id in hops]
        for firing in firings:
            if firing.clock.subject_id not in hops:
                firing.result = "skip" if firing.clock.subject_id in existing else "stop"
        coordinator_ids = {
            f.clock.policy.get("coordinator_agency_id")
            or f.clock.context.get("coordinator_agency_id")
            for f in live
            if f.spec.get("notify") == "coordinator"
        } - {None}
        coordinators = Agency.objects.in_bulk(coordinator_ids)
        agency_ids = {h.to_agency_id for h in hops.values()} | {
            h.from_agency_id for h in hops.values()
        }
        user_ids = {f.clock.owner_user_id for f in live if f.clock.owner_user_id}
        known = _Recipients(
            supervisors=supervisor_emails_by_agency(agency_ids | set(coordinators)),
            coordinators=coordinators,
            users=(
                dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "email"))
                if user_ids
                else {}
            ),
        )
        mirror: list[tuple[int, int, datetime | None]] = []
        outcome_sender_told: list[int] = []
        for firing in live:
            hop = hops[firing.clock.subject_id]  # type: ignore[index]
            if hop.status != WAITING[self.kind]:
                firing.result = "stop"
                continue
            if self.kind == clocks.HANDOFF_ACK:
                _skip_unreachable_receiver(firing, hop, now)
            firing.told = _notify_level(batch, firing, hop, known)
            firing.result = "fired"
            batch.audits.append(_hop_event(firing, hop))
            if self.kind == clocks.HANDOFF_ACK:
                mirror.append((hop.pk, firing.fired, firing.next_at))
            elif self.kind == clocks.HANDOFF_OUTCOME and firing.spec.get("notify") == "sender":
                outcome_sender_told.append(hop.pk)
        # The hop's own columns follow (screens, API, metrics read them): one UPDATE for the
        # batch (the hops are locked above, so it waits for nobody).
        updated_at = timezone.now()
        _mirror(mirror, updated_at)
        if outcome_sender_told:
            Handoff.objects.filter(pk__in=outcome_sender_told).update(
                outcome_reminder_at=None, updated_at=updated_at
            )


def _mirror(rows: list[tuple[int, int, datetime | None]], updated_at: datetime) -> None:
    """The hops' escalation columns follow their acknowledgment clocks, in one statement:
    (hop id, level fired, next time) each."""
    update_levels(
        Handoff,
        rows,
        level="escalation_level",
        next_at="next_escalation_at",
        values={"updated_at": updated_at},
    )


def _skip_unreachable_receiver(firing: Firing, hop: _Hop, now: datetime) -> None:
    """A receiver that could not be notified is skipped at level 1: straight above it."""
    levels = firing.clock.policy.get("levels") or []
    if firing.level == 1 and not hop.receiver_notified and len(levels) > 1:
        firing.level = firing.fired = 2
        firing.spec = levels[1]
        clock = firing.clock
        firing.next_at = clocks.next_fire_time(
            clock.policy, level=2, started_at=clock.started_at, due_at=clock.due_at, fired_at=now
        )


def _consent_path(clock: Clock) -> str:
    try:
        return reverse("relay:consent-print", args=[clock.subject_id])
    except NoReverseMatch:  # the web UI is not installed
        return "/"


def register_kinds() -> None:
    """Make the hop clocks and the consent-expiry clock known to the sweep (relay's ready())."""
    for kind in WAITING:
        register(HopClockKind(kind))
    register(
        GenericKind(
            kind=clocks.CONSENT_EXPIRY,
            event="consent.expiring",
            still_open=lambda record: record.status == ConsentStatus.ACTIVE,
            path=_consent_path,
        )
    )


def escalate_due(
    *, now: datetime | None = None, batch: int = 1000, workers: int | None = None
) -> int:
    """Escalate every hop whose acknowledgment clock's next level has come; returns how many.

    The acknowledgment clock's part of the one sweep (duework.services.sweep_due), which
    beat runs for every kind; kept for callers that want only this kind.
    """
    return sweep_due(now=now, batch=batch, workers=workers, kinds=(clocks.HANDOFF_ACK,))


def remind_missing_outcomes(*, now: datetime | None = None, batch: int = 200) -> int:
    """Closed loop: the outcome clock's part of the sweep (the receiver is reminded to record
    the outcome, then the sender is told it is missing); returns how many reminders."""
    return sweep_due(now=now, batch=batch, kinds=(clocks.HANDOFF_OUTCOME,))


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
