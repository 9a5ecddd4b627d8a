"""Escalation of unacknowledged handoffs, outcome reminders and overdue digests.

Driven by the database: due rows are found through the partial index on next_escalation_at,
claimed with SELECT ... FOR UPDATE SKIP LOCKED, and moved on in the same transaction as their
audit events and outbox rows. A sweep that runs twice, or in two workers at once, escalates
each due hop once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agencies.models import Agency
from audit.context import Actor
from audit.models import AuditAction
from relay.business_time import default_calendar
from relay.delivery import supervisor_emails
from relay.escalation import next_after
from relay.events import handoff_event
from relay.models import Handoff, OutboxMessage
from relay.models.outbox import Channel
from relay.notify import handoff_payload, notify_agency
from relay.states import Status

SYSTEM = Actor.system("escalation")
DIGEST_EVENT = "digest.overdue"


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
    levels = hop.escalation_policy.get("levels") or []
    if not levels:
        hop.next_escalation_at = None
        hop.save(update_fields=["next_escalation_at", "updated_at"])
        return
    level = hop.escalation_level + 1
    if level == 1 and not hop.receiver_notified and len(levels) > 1:
        level = 2  # the receiver could not be notified: go straight above it
    fired = min(level, len(levels))
    told = _notify_level(hop, fired, levels[fired - 1]["notify"])
    hop.escalation_level = fired
    next_at = next_after(hop.escalation_policy, level=level, fired_at=now)
    # A level configured with no delay fires at the next sweep, not again in this one.
    hop.next_escalation_at = max(next_at, now + timedelta(seconds=1)) if next_at else None
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
    """Escalate every hop whose next escalation time has come; returns how many.

    Each batch is one transaction: rows claimed with FOR UPDATE SKIP LOCKED (another sweep
    running at the same time takes other rows), escalated, and their next time moved past
    `now`, so neither this loop nor a second sweep picks them again.
    """
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            hops = list(
                Handoff.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("to_agency", "from_agency", "sent_by", "consent")
                .filter(next_escalation_at__lte=now, status=Status.SENT)
                .order_by("next_escalation_at")[:batch]
            )
            for hop in hops:
                _escalate_one(hop, now)
        total += len(hops)
        if len(hops) < batch:
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
