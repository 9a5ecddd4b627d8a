"""The hop clocks: the acknowledgment deadline and its escalation policy snapshot, and which
due-work clocks (duework/) run in each state of a hop.

`start_clock` gives the hop's own columns at send (ack_due_at, the first escalation time,
the policy in force, copied so a later policy change does not rewrite open hops); the
workflow's transitions then call `clocks_follow`, in their transaction, which starts and
stops the hop's duework clocks for the state the hop entered: the approval queue while it
awaits a supervisor, acknowledgment once sent, the receiver's decision once acknowledged,
the outcome and the monthly progress update once accepted; none once it is closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from agencies.models import Agency, Membership, Role
from consent.models import ConsentRecord, Decision
from duework import policy as clocks
from duework.policy import calendar_for
from duework.services import clock_start, clock_stop
from relay.models import Handoff
from relay.states import Status

DEFAULT_POLICY: dict[str, Any] = {
    # Business hours from send to the acknowledgment deadline; None: the agency's SLA.
    "ack_hours": None,
    "urgent_ack_hours": 4,
    # Each level fires `after_hours` business hours after the previous one (level 1: at the
    # deadline). notify: who is told at that level. (duework.policy.DEFAULTS holds them, so
    # the settings screen shows the same table.)
    "levels": clocks.DEFAULTS[clocks.HANDOFF_ACK]["levels"],
    # After the last level, remind the coordinator again every N business hours (None: never).
    "repeat_hours": clocks.DEFAULTS[clocks.HANDOFF_ACK]["repeat_hours"],
    # Slug of the ward-level coordinating agency told at level 3.
    "coordinator_agency": "",
    # Tell the sender when an accepted hop has no outcome after N business hours (the
    # receiver is reminded half-way, see duework.policy HANDOFF_OUTCOME).
    "outcome_reminder_hours": 80,
    "day_start": "09:00",
    "day_end": "17:00",
}
HOP_CLOCKS = (
    clocks.HANDOFF_APPROVAL,
    clocks.HANDOFF_ACK,
    clocks.HANDOFF_DECISION,
    clocks.HANDOFF_OUTCOME,
    clocks.HANDOFF_PROGRESS,
)

__all__ = [
    "DEFAULT_POLICY",
    "calendar_for",
    "clocks_follow",
    "consent_clock_start",
    "consent_clock_stop",
    "policy_for",
    "progress_clock_start",
    "start_clock",
]


def policy_for(agency_policy: dict[str, Any]) -> dict[str, Any]:
    """The default from settings, overridden by the receiving agency's own settings."""
    configured = getattr(settings, "TSUNAGU", {}).get("ESCALATION", {})
    return {**DEFAULT_POLICY, **configured, **(agency_policy or {})}


def _coordinator_id(policy: dict[str, Any]) -> int | None:
    if not policy.get("coordinator_agency"):
        return None
    return (
        Agency.objects.filter(slug=policy["coordinator_agency"])
        .values_list("pk", flat=True)
        .first()
    )


def start_clock(*, handoff: Handoff, sent_at: datetime) -> dict[str, Any]:
    """Fields to set at send: the deadline, the first escalation time, the policy snapshot."""
    receiver = handoff.to_agency
    policy = policy_for(receiver.escalation_policy)
    ack_hours = (
        policy["urgent_ack_hours"]
        if handoff.urgent
        else policy["ack_hours"] or receiver.ack_sla_hours
    )
    snapshot = {
        "ack_hours": ack_hours,
        "levels": policy["levels"],
        "repeat_hours": policy["repeat_hours"],
        "coordinator_agency_id": _coordinator_id(policy),
        "outcome_reminder_hours": policy["outcome_reminder_hours"],
        "day_start": policy["day_start"],
        "day_end": policy["day_end"],
        "closed_days": sorted(str(d) for d in receiver.closed_days),
    }
    due = calendar_for(snapshot).add_business_hours(sent_at, ack_hours)
    return {
        "ack_due_at": due,
        "escalation_level": 0,
        "next_escalation_at": due,
        "escalation_policy": snapshot,
        "receiver_notified": True,
    }


def stop_clock() -> dict[str, Any]:
    """Acknowledgment (or any answer) stops escalation (the hop's own column)."""
    return {"next_escalation_at": None}


def start_outcome_clock(*, handoff: Handoff, accepted_at: datetime) -> dict[str, Any]:
    """Fields to set on acceptance: when the sender is told if no outcome is recorded."""
    hours = (handoff.escalation_policy or {}).get("outcome_reminder_hours")
    if not hours:
        return {"outcome_reminder_at": None}
    snapshot = handoff.escalation_policy
    return {"outcome_reminder_at": calendar_for(snapshot).add_business_hours(accepted_at, hours)}


# --- the duework clocks of a hop ---------------------------------------------------------


def _context(handoff: Handoff, coordinator_id: int | None) -> dict[str, Any]:
    return {
        "from_agency_id": handoff.from_agency_id,
        "to_agency_id": handoff.to_agency_id,
        "coordinator_agency_id": coordinator_id,
    }


def _approver_id(handoff: Handoff) -> int | None:
    """The supervisor reminded first of a hop awaiting approval: the longest-standing
    supervisor of the sending agency other than the one who submitted it."""
    supervisors = Membership.objects.filter(agency_id=handoff.from_agency_id, role=Role.SUPERVISOR)
    if handoff.created_by_id is not None:
        supervisors = supervisors.exclude(user_id=handoff.created_by_id)
    return supervisors.order_by("id").values_list("user_id", flat=True).first()


def _start(kind: str, handoff: Handoff, *, agency: Agency, now: datetime, **extra: Any) -> None:
    policy = clocks.policy_for(kind, agency=agency)
    snapshot = handoff.escalation_policy or {}
    coordinator_id = snapshot.get("coordinator_agency_id") or _coordinator_id(
        policy_for(handoff.to_agency.escalation_policy)
    )
    due_hours = policy.get("due_hours") or 0
    if kind == clocks.HANDOFF_OUTCOME:
        due_hours = snapshot.get("outcome_reminder_hours", due_hours)
        if not due_hours:
            return
        # The sender at the deadline, the receiver half-way (the policy's proportions).
        levels = policy["levels"]
        default_due = clocks.DEFAULTS[kind]["due_hours"]
        for level in levels:
            if "start_hours" in level:
                level["start_hours"] = level["start_hours"] * due_hours / default_due
    due = calendar_for(policy).add_business_hours(now, due_hours)
    clock_start(
        kind=kind,
        subject=handoff,
        owner_agency=agency,
        due_at=due,
        policy=policy,
        started_at=now,
        sheet_id=handoff.sheet_id,
        context=_context(handoff, coordinator_id),
        **extra,
    )


def clocks_follow(handoff: Handoff, *, at: datetime | None = None) -> None:
    """Start and stop the hop's clocks for the state it has just entered (inside the
    transition's transaction, with the hop locked)."""
    now = at or timezone.now()
    status = handoff.status
    if status == Status.AWAITING_APPROVAL:
        _start(
            clocks.HANDOFF_APPROVAL,
            handoff,
            agency=handoff.from_agency,
            now=now,
            owner_role=Role.SUPERVISOR,
            owner_user_id=_approver_id(handoff),
        )
    elif status == Status.DRAFT:
        clock_stop(kinds=HOP_CLOCKS, subject=handoff, reason="returned", done=False)
    elif status == Status.SENT:
        clock_stop(kinds=(clocks.HANDOFF_APPROVAL,), subject=handoff, reason="approved")
        if handoff.ack_due_at is not None:
            clock_start(
                kind=clocks.HANDOFF_ACK,
                subject=handoff,
                owner_agency=handoff.to_agency,
                owner_role=Role.INTAKE,
                due_at=handoff.ack_due_at,
                policy=handoff.escalation_policy,
                started_at=handoff.sent_at or now,
                sheet_id=handoff.sheet_id,
                context=_context(
                    handoff, (handoff.escalation_policy or {}).get("coordinator_agency_id")
                ),
            )
    elif status == Status.ACKNOWLEDGED:
        clock_stop(kinds=(clocks.HANDOFF_ACK,), subject=handoff, reason="acknowledged")
        _start(clocks.HANDOFF_DECISION, handoff, agency=handoff.to_agency, now=now)
    elif status == Status.ACCEPTED:
        clock_stop(
            kinds=(clocks.HANDOFF_ACK, clocks.HANDOFF_DECISION), subject=handoff, reason="accepted"
        )
        _start(clocks.HANDOFF_OUTCOME, handoff, agency=handoff.to_agency, now=now)
        progress_clock_start(handoff, since=handoff.accepted_at or now)
    else:  # declined, completed, cancelled, withdrawn: nothing waits any more
        done = status in (Status.DECLINED, Status.COMPLETED)
        clock_stop(kinds=HOP_CLOCKS, subject=handoff, reason=str(status), done=done)


def progress_clock_start(handoff: Handoff, *, since: datetime) -> None:
    """Ask the receiver of an accepted hop for a progress update a month after `since` (the
    acceptance, or the update just posted: posting restarts the clock at level 0)."""
    receiver = handoff.to_agency
    policy = clocks.policy_for(clocks.HANDOFF_PROGRESS, agency=receiver)
    clock_start(
        kind=clocks.HANDOFF_PROGRESS,
        subject=handoff,
        owner_agency=receiver,
        owner_role=Role.INTAKE,
        due_at=clocks.monthly_due(policy, since=since),
        policy=policy,
        started_at=since,
        sheet_id=handoff.sheet_id,
        context=_context(handoff, None),
    )


# --- consent records and lawful bases nearing expiry ---------------------------------------


def consent_clock_start(record: ConsentRecord) -> None:
    """Remind the person who recorded it 14 and 3 days before a record in force expires
    (a permission recorded, or a lawful basis approved)."""
    if record.decision != Decision.PERMIT:
        return
    agency = Agency.objects.get(pk=record.agency_id)
    clock_start(
        kind=clocks.CONSENT_EXPIRY,
        subject=record,
        owner_agency=agency,
        owner_user_id=record.obtained_by_id,
        due_at=record.valid_until,
        policy=clocks.policy_for(clocks.CONSENT_EXPIRY, agency=agency),
        sheet_id=record.sheet_id,
        context={"basis": record.basis},
    )


def consent_clock_stop(record: ConsentRecord, *, reason: str) -> None:
    """Withdrawn, voided or expired: nobody needs reminding any more."""
    clock_stop(kinds=(clocks.CONSENT_EXPIRY,), subject=record, reason=reason, done=False)
