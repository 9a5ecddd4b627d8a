"""Escalation policies of every clock kind: defaults, per agency kind, per agency.

A policy is a list of levels; each level says when it fires and who is told:

* ``after_hours``: business hours after the deadline (level 1) or after the previous level
  fired (later levels) — the acknowledgment escalation's shape;
* ``due_hours``: business hours after the deadline, whenever the previous level fired;
* ``start_hours``: business hours after the clock started;
* ``before_days``: calendar days before the deadline (expiry reminders).

After the last level, ``repeat_hours`` (business hours) re-fires the last level; None: never.
The policy in force when a clock starts is copied onto it, so a later change does not
rewrite open clocks. Resolution order: ``DEFAULTS`` < ``AGENCY_KIND_DEFAULTS`` <
``settings.TSUNAGU["DUEWORK"]`` (``"*"`` then the agency kind) < the agency's own
``escalation_policy["clocks"][kind]``.
"""

from __future__ import annotations

import copy
from calendar import monthrange
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from duework.business_time import BusinessCalendar

HANDOFF_ACK = "handoff.ack"
HANDOFF_DECISION = "handoff.decision"
HANDOFF_APPROVAL = "handoff.approval"
HANDOFF_OUTCOME = "handoff.outcome"
HANDOFF_PROGRESS = "handoff.progress"
CONSENT_EXPIRY = "consent.expiry"
PLAN_ACTION = "plan.action"
MEETING_REVIEW = "meeting.review"
ATTENDANCE_ACTION = "attendance.action"

KIND_LABELS = {
    HANDOFF_ACK: _("引き継ぎの受領確認"),
    HANDOFF_DECISION: _("受領後の受け入れ判断"),
    HANDOFF_APPROVAL: _("送付の承認待ち"),
    HANDOFF_OUTCOME: _("結果の記録"),
    HANDOFF_PROGRESS: _("受け入れ後の経過の報告(毎月)"),
    CONSENT_EXPIRY: _("同意・法令上の根拠の有効期限"),
    PLAN_ACTION: _("支援計画の取り組みの期限"),
    MEETING_REVIEW: _("ケース会議の見直し日"),
    ATTENDANCE_ACTION: _("欠席への早期対応の期限"),
}

NOTIFY_LABELS = {
    "receiver_intake": _("受け取った機関の受付担当"),
    "receiver_supervisors_and_sender": _("受け取った機関の管理職と送付元"),
    "receiver_supervisors": _("受け取った機関の管理職"),
    "coordinator": _("区の調整担当(調整機関)"),
    "approver": _("承認を担当する管理職"),
    "other_supervisors": _("同じ機関のほかの管理職"),
    "sender": _("送付元"),
    "recorder": _("記録した職員"),
    "owner": _("担当機関"),
    "owner_supervisors_and_coordinator": _("担当機関の管理職と調整機関"),
    "owner_supervisors": _("担当機関の管理職"),
    "homeroom": _("担任(担当の教職員)"),
    "grade_leader": _("学年主任"),
    "school_principal": _("学校の管理職"),
}

# A hop waiting for its receiver (to acknowledge it, then to decide on it) climbs one ladder:
# the receiver's intake when due, its supervisors and the sender a business day later, the
# ward coordinator a day after that. policy_for copies it into each policy it returns.
RECEIVER_LADDER: list[dict[str, Any]] = [
    {"level": 1, "after_hours": 0, "notify": "receiver_intake"},
    {"level": 2, "after_hours": 8, "notify": "receiver_supervisors_and_sender"},
    {"level": 3, "after_hours": 16, "notify": "coordinator"},
]


def plan_action_levels(*, notice_days: int) -> list[dict[str, Any]]:
    """A plan action's ladder: the owner `notice_days` before the due date and on it, then
    the owner's supervisors and the coordinating agency two business days late."""
    return [
        {"level": 1, "before_days": notice_days, "notify": "owner"},
        {"level": 2, "due_hours": 0, "notify": "owner"},
        {"level": 3, "after_hours": 16, "notify": "owner_supervisors_and_coordinator"},
    ]


DEFAULTS: dict[str, dict[str, Any]] = {
    HANDOFF_ACK: {
        "levels": RECEIVER_LADDER,
        "repeat_hours": 16,
    },
    HANDOFF_DECISION: {
        # Acknowledged but neither accepted nor declined after this many business hours.
        "due_hours": 24,
        "levels": RECEIVER_LADDER,
        "repeat_hours": 16,
    },
    HANDOFF_APPROVAL: {
        "due_hours": 8,
        "levels": [
            {"level": 1, "after_hours": 0, "notify": "approver"},
            {"level": 2, "after_hours": 8, "notify": "other_supervisors"},
        ],
        "repeat_hours": 16,
    },
    HANDOFF_OUTCOME: {
        # The sender is told at the deadline; the receiver, who must record it, before.
        "due_hours": 80,
        "levels": [
            {"level": 1, "start_hours": 40, "notify": "receiver_intake"},
            {"level": 2, "start_hours": 80, "notify": "sender"},
        ],
        "repeat_hours": None,
    },
    HANDOFF_PROGRESS: {
        # While a hop is accepted: an update is due a calendar month after acceptance or the
        # last update (at the next opening if that is a closed day). The receiver is asked
        # then, its supervisors a business week later, and again every ~business month.
        "interval_months": 1,
        "levels": [
            {"level": 1, "due_hours": 0, "notify": "receiver_intake"},
            {"level": 2, "after_hours": 40, "notify": "receiver_supervisors"},
        ],
        "repeat_hours": 160,
    },
    CONSENT_EXPIRY: {
        "levels": [
            {"level": 1, "before_days": 14, "notify": "recorder"},
            {"level": 2, "before_days": 3, "notify": "recorder"},
        ],
        "repeat_hours": None,
    },
    PLAN_ACTION: {
        "levels": plan_action_levels(notice_days=3),
        "repeat_hours": 40,
    },
    MEETING_REVIEW: {
        "levels": [
            {"level": 1, "before_days": 7, "notify": "owner"},
            {"level": 2, "due_hours": 0, "notify": "owner"},
            {"level": 3, "after_hours": 16, "notify": "owner_supervisors"},
        ],
        "repeat_hours": 40,
    },
    # An early-response action (attendance/): due at the end of its school day; the owner
    # (担任) is told then, the grade leader a school day later, the 管理職 a day after that.
    ATTENDANCE_ACTION: {
        "levels": [
            {"level": 1, "due_hours": 0, "notify": "homeroom"},
            {"level": 2, "after_hours": 8, "notify": "grade_leader"},
            {"level": 3, "after_hours": 8, "notify": "school_principal"},
        ],
        "repeat_hours": 16,
    },
}

# Where an agency kind works to other times than the default.
AGENCY_KIND_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    # A child guidance centre decides on protection quickly.
    "child_guidance": {HANDOFF_DECISION: {"due_hours": 8}},
    # Schools hold case meetings around the term; a plan action gets a week's notice.
    "school": {PLAN_ACTION: {"levels": plan_action_levels(notice_days=7)}},
}


def policy_for(kind: str, *, agency: Agency | None) -> dict[str, Any]:
    """The policy of `kind` for `agency` (its kind's defaults, the settings, its own)."""
    configured = getattr(settings, "TSUNAGU", {}).get("DUEWORK", {})
    policy = copy.deepcopy(DEFAULTS[kind])
    layers = [configured.get("*", {}).get(kind, {})]
    if agency is not None:
        layers[:0] = [AGENCY_KIND_DEFAULTS.get(agency.kind, {}).get(kind, {})]
        layers += [
            configured.get(agency.kind, {}).get(kind, {}),
            ((agency.escalation_policy or {}).get("clocks") or {}).get(kind, {}),
        ]
    for layer in layers:
        policy.update(copy.deepcopy(layer))
    if agency is not None:
        policy.setdefault("closed_days", sorted(str(d) for d in agency.closed_days))
    policy.setdefault("day_start", "09:00")
    policy.setdefault("day_end", "17:00")
    return policy


def calendar_for(snapshot: dict[str, Any]) -> BusinessCalendar:
    """The business calendar of a policy snapshot: opening hours and the agency's closed days."""
    return BusinessCalendar(
        day_start=time.fromisoformat(snapshot.get("day_start", "09:00")),
        day_end=time.fromisoformat(snapshot.get("day_end", "17:00")),
        closed_days=frozenset(date.fromisoformat(d) for d in snapshot.get("closed_days", [])),
    )


def monthly_due(snapshot: dict[str, Any], *, since: datetime) -> datetime:
    """`interval_months` calendar months after `since` (local time; the 31st becomes the
    month's last day), at the next opening of the snapshot's calendar if that is closed."""
    local = timezone.localtime(since)
    index = local.month - 1 + int(snapshot.get("interval_months") or 1)
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, monthrange(year, month)[1])
    return calendar_for(snapshot).next_opening(local.replace(year=year, month=month, day=day))


def _add(calendar: BusinessCalendar, at: datetime, hours: float) -> datetime:
    """`hours` business hours after `at`; zero is `at` itself (a deadline fires when due)."""
    return at if not hours else calendar.add_business_hours(at, hours)


def level_time(
    snapshot: dict[str, Any],
    *,
    index: int,
    started_at: datetime,
    due_at: datetime,
    previous_fired_at: datetime | None,
) -> datetime:
    """When level `index` (0-based; past the last level: a repeat) fires."""
    levels = snapshot.get("levels") or []
    calendar = calendar_for(snapshot)
    if index >= len(levels):
        return _add(calendar, previous_fired_at or due_at, snapshot.get("repeat_hours") or 0)
    spec = levels[index]
    if "before_days" in spec:
        return due_at - timedelta(days=spec["before_days"])
    if "start_hours" in spec:
        return _add(calendar, started_at, spec["start_hours"])
    if "due_hours" in spec:
        return _add(calendar, due_at, spec["due_hours"])
    anchor = due_at if index == 0 or previous_fired_at is None else previous_fired_at
    return _add(calendar, anchor, spec.get("after_hours", 0))


def first_level(
    snapshot: dict[str, Any], *, started_at: datetime, due_at: datetime, now: datetime
) -> tuple[int, datetime | None]:
    """(levels already passed, when the next one fires) for a clock starting at `now`.

    Reminders whose time passed before the clock started are not sent late one after the
    other: only the latest of them fires (at once), the earlier ones are skipped.
    """
    levels = snapshot.get("levels") or []
    if not levels:
        return 0, None
    passed = 0
    for index in range(len(levels)):
        spec = levels[index]
        if "before_days" not in spec and "start_hours" not in spec:
            break  # relative to the deadline or a firing: not known to have passed
        at = level_time(
            snapshot, index=index, started_at=started_at, due_at=due_at, previous_fired_at=None
        )
        if at > now:
            break
        passed = index + 1
    skipped = max(passed - 1, 0)
    return skipped, level_time(
        snapshot, index=skipped, started_at=started_at, due_at=due_at, previous_fired_at=None
    )


def next_fire_time(
    snapshot: dict[str, Any],
    *,
    level: int,
    started_at: datetime,
    due_at: datetime,
    fired_at: datetime,
) -> datetime | None:
    """When the level after `level` (counted from 1) fires, given that `level` fired at
    `fired_at`; None: nothing more (no levels, or the last one fired and no repeat)."""
    levels = snapshot.get("levels") or []
    if not levels or (level >= len(levels) and not snapshot.get("repeat_hours")):
        return None
    at = level_time(
        snapshot, index=level, started_at=started_at, due_at=due_at, previous_fired_at=fired_at
    )
    # A level configured with no delay (or already past) fires at the next sweep, not again
    # in this one.
    return max(at, fired_at + timedelta(seconds=1))
