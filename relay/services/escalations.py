"""Escalation of unacknowledged handoffs, outcome reminders and overdue digests.

Driven by the database: due rows are found through the partial index on next_escalation_at,
claimed with SELECT ... FOR UPDATE SKIP LOCKED, and moved on in the same transaction as their
audit events and outbox rows. A sweep that runs twice, or in two workers at once, escalates
each due hop once.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from agencies.models import Agency
from audit.context import Actor
from audit.models import AuditAction
from relay.delivery import supervisor_emails
from relay.escalation import next_after
from relay.events import handoff_event
from relay.models import Handoff, OutboxMessage
from relay.models.outbox import Channel
from relay.notify import handoff_payload, notify_agency
from relay.states import Status

SYSTEM = Actor.system("escalation")


def _emails(*values: str | None) -> list[str]:
    return sorted({v for v in values if v})


def _notify_level(hop: Handoff, level: int, notify: str) -> list[int]:
    """Queue the level's notifications; returns the agencies told."""
    event = "handoff.escalated"
    payload = handoff_payload(
        event, hop, level=level, ack_due_at=hop.ack_due_at.isoformat() if hop.ack_due_at else None
    )
    receiver, sender = hop.to_agency, hop.from_agency
    told: list[int] = []
    if notify == "receiver_intake":
        notify_agency(event, agency=receiver, handoff=hop, payload=payload, actor=SYSTEM)
        told.append(receiver.pk)
    elif notify == "receiver_supervisors_and_sender":
        notify_agency(
            event,
            agency=receiver,
            handoff=hop,
            payload=payload,
            actor=SYSTEM,
            email_to=_emails(receiver.intake_email, *supervisor_emails(receiver.pk)),
        )
        sent_by_email = hop.sent_by.email if hop.sent_by_id and hop.sent_by else ""
        notify_agency(
            event,
            agency=sender,
            handoff=hop,
            payload=payload,
            actor=SYSTEM,
            email_to=_emails(sent_by_email, *supervisor_emails(sender.pk)),
            channels=[Channel.EMAIL],
        )
        told += [receiver.pk, sender.pk]
    else:  # coordinator (or, when none is configured, the sender's supervisors)
        coordinator_id = hop.escalation_policy.get("coordinator_agency_id")
        coordinator = Agency.objects.filter(pk=coordinator_id).first() if coordinator_id else None
        target = coordinator or sender
        notify_agency(
            event,
            agency=target,
            handoff=hop,
            payload=payload,
            actor=SYSTEM,
            email_to=_emails(target.intake_email, *supervisor_emails(target.pk)),
            channels=[Channel.EMAIL],
        )
        told.append(target.pk)
    return told


def _escalate_one(hop: Handoff, now: datetime) -> None:
    levels = hop.escalation_policy.get("levels", [])
    level = hop.escalation_level + 1
    if level == 1 and not hop.receiver_notified and len(levels) > 1:
        level = 2  # the receiver could not be notified: go straight above it
    spec = levels[min(level, len(levels)) - 1]
    told = _notify_level(hop, min(level, len(levels)), spec["notify"])
    hop.escalation_level = min(level, len(levels))
    hop.next_escalation_at = next_after(hop.escalation_policy, level=level, fired_at=now)
    hop.save(update_fields=["escalation_level", "next_escalation_at", "updated_at"])
    handoff_event(
        AuditAction.HANDOFF_ESCALATED,
        handoff=hop,
        actor=SYSTEM,
        level=hop.escalation_level,
        repeat=level > len(levels),
        told=told,
        next_escalation_at=(hop.next_escalation_at.isoformat() if hop.next_escalation_at else None),
    )


def escalate_due(*, now: datetime | None = None, batch: int = 200) -> int:
    """Escalate every hop whose next escalation time has come; returns how many."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            hops = list(
                Handoff.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("to_agency", "from_agency", "sent_by", "consent")
                .filter(next_escalation_at__lte=now, status=Status.SENT)
                .order_by("next_escalation_at", "id")[:batch]
            )
            for hop in hops:
                _escalate_one(hop, now)
        total += len(hops)
        if len(hops) < batch:
            return total


def remind_missing_outcomes(*, now: datetime | None = None, batch: int = 200) -> int:
    """Closed loop: tell the sender when an accepted hop still has no outcome."""
    now = now or timezone.now()
    with transaction.atomic():
        hops = list(
            Handoff.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("to_agency", "from_agency", "consent")
            .filter(outcome_reminder_at__lte=now, status=Status.ACCEPTED)
            .order_by("outcome_reminder_at", "id")[:batch]
        )
        for hop in hops:
            hop.outcome_reminder_at = None
            hop.save(update_fields=["outcome_reminder_at", "updated_at"])
            notify_agency(
                "handoff.outcome_reminder",
                agency=hop.from_agency,
                handoff=hop,
                payload=handoff_payload("handoff.outcome_reminder", hop),
                actor=SYSTEM,
                channels=[Channel.EMAIL],
            )
    return len(hops)


def send_overdue_digests(*, now: datetime | None = None) -> int:
    """One e-mail per agency listing its overdue handoffs; at most one per agency per day."""
    now = now or timezone.now()
    today_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    overdue: dict[int, list[int]] = {}
    for agency_id, hop_id in (
        Handoff.objects.filter(status=Status.SENT, ack_due_at__lt=now)
        .order_by("to_agency_id", "ack_due_at")
        .values_list("to_agency_id", "id")
    ):
        overdue.setdefault(agency_id, []).append(hop_id)
    sent = 0
    for agency_id, hop_ids in overdue.items():
        with transaction.atomic():
            agency = Agency.objects.select_for_update().get(pk=agency_id)
            already = OutboxMessage.objects.filter(
                agency=agency, event_type="digest.overdue", created_at__gte=today_start
            ).exists()
            if already:
                continue
            notify_agency(
                "digest.overdue",
                agency=agency,
                handoff=None,
                payload={
                    "type": "digest.overdue",
                    "data": {"count": len(hop_ids), "handoff_ids": hop_ids},
                },
                actor=SYSTEM,
                email_to=_emails(agency.intake_email, *supervisor_emails(agency.pk)),
                channels=[Channel.EMAIL],
                in_app=False,
            )
            sent += 1
    return sent
