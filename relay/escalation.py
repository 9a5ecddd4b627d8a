"""The acknowledgment clock: deadlines in business time, and the escalation policy snapshot.

Times live in the handoff's columns (ack_due_at, next_escalation_at), not in broker ETAs; the
sweep (relay.services.escalations) reads them through an index. The policy in force at send is
copied onto the handoff, so a later policy change does not rewrite open handoffs.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.conf import settings

from agencies.models import Agency
from relay.business_time import BusinessCalendar
from relay.models import Handoff

DEFAULT_POLICY: dict[str, Any] = {
    # Business hours from send to the acknowledgment deadline; None: the agency's SLA.
    "ack_hours": None,
    "urgent_ack_hours": 4,
    # Each level fires `after_hours` business hours after the previous one (level 1: at the
    # deadline). notify: who is told at that level.
    "levels": [
        {"level": 1, "after_hours": 0, "notify": "receiver_intake"},
        {"level": 2, "after_hours": 8, "notify": "receiver_supervisors_and_sender"},
        {"level": 3, "after_hours": 16, "notify": "coordinator"},
    ],
    # After the last level, remind the coordinator again every N business hours (None: never).
    "repeat_hours": 16,
    # Slug of the ward-level coordinating agency told at level 3.
    "coordinator_agency": "",
    # Remind the sender when an accepted hop has no outcome after N business hours.
    "outcome_reminder_hours": 80,
    "day_start": "09:00",
    "day_end": "17:00",
}


def policy_for(agency_policy: dict[str, Any]) -> dict[str, Any]:
    """The default from settings, overridden by the receiving agency's own settings."""
    configured = getattr(settings, "TSUNAGU", {}).get("ESCALATION", {})
    return {**DEFAULT_POLICY, **configured, **(agency_policy or {})}


def calendar_for(snapshot: dict[str, Any]) -> BusinessCalendar:
    """The business calendar of a policy snapshot: opening hours and the agency's closed days."""
    return BusinessCalendar(
        day_start=time.fromisoformat(snapshot.get("day_start", "09:00")),
        day_end=time.fromisoformat(snapshot.get("day_end", "17:00")),
        closed_days=frozenset(date.fromisoformat(d) for d in snapshot.get("closed_days", [])),
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
    coordinator_id = None
    if policy["coordinator_agency"]:
        coordinator_id = (
            Agency.objects.filter(slug=policy["coordinator_agency"])
            .values_list("pk", flat=True)
            .first()
        )
    snapshot = {
        "ack_hours": ack_hours,
        "levels": policy["levels"],
        "repeat_hours": policy["repeat_hours"],
        "coordinator_agency_id": coordinator_id,
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
    """Acknowledgment (or any answer) stops escalation."""
    return {"next_escalation_at": None}


def next_after(snapshot: dict[str, Any], *, level: int, fired_at: datetime) -> datetime | None:
    """When the level after `level` is due, counted from when `level` fired; None: no more."""
    levels = snapshot.get("levels") or []
    if not levels:
        return None
    if level < len(levels):
        hours = levels[level]["after_hours"]
    elif snapshot.get("repeat_hours"):
        hours = snapshot["repeat_hours"]
    else:
        return None
    return calendar_for(snapshot).add_business_hours(fired_at, hours)


def start_outcome_clock(*, handoff: Handoff, accepted_at: datetime) -> dict[str, Any]:
    """Fields to set on acceptance: when to remind the sender if no outcome is recorded."""
    hours = (handoff.escalation_policy or {}).get("outcome_reminder_hours")
    if not hours:
        return {"outcome_reminder_at": None}
    snapshot = handoff.escalation_policy
    return {"outcome_reminder_at": calendar_for(snapshot).add_business_hours(accepted_at, hours)}
