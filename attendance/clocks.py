"""Early-response actions on the due-work engine: one clock per open action, due at the end
of its school day; the 担任 is told, then the grade leader, then the school's 管理職."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

from agencies.models import Agency
from attendance.calendar import closed_dates, year_bounds
from attendance.models import ActionState, EarlyAction, SchoolRole, StaffPost
from audit.models import AuditAction
from duework import policy as clocks
from duework.business_time import TOKYO
from duework.generic import clock_payload
from duework.kinds import Firing, register
from duework.models import Clock
from duework.outbox import SYSTEM, Batch, emails
from duework.services import clock_start, clock_stop
from notifications.models import Channel

EVENT = "attendance.action_due"


def _path(clock: Clock) -> str:
    try:
        return reverse("attendance:action", args=[clock.subject_id])
    except NoReverseMatch:  # the web UI is not installed
        return "/"


def clock_for_action(action: EarlyAction, *, school: Agency, homeroom_user_id: int | None) -> None:
    """Start the action's clock (inside the service's transaction)."""
    policy = clocks.policy_for(clocks.ATTENDANCE_ACTION, agency=school)
    policy["closed_days"] = sorted(
        str(d) for d in closed_dates(school, within=year_bounds(action.school_year))
    )
    end = time.fromisoformat(policy.get("day_end", "17:00"))
    clock_start(
        kind=clocks.ATTENDANCE_ACTION,
        subject=action,
        owner_agency=school,
        owner_role=action.owner_role,
        owner_user_id=homeroom_user_id,
        due_at=datetime.combine(action.due_on, end, tzinfo=TOKYO),
        policy=policy,
        context={"grade": _grade(action), "action_kind": action.kind},
    )


def _grade(action: EarlyAction) -> int | None:
    enrolment = action.pupil.enrolments.filter(school_year=action.school_year).first()
    return enrolment.classroom.grade if enrolment else None


def clock_end(action: EarlyAction, *, done: bool) -> None:
    clock_stop(kinds=(clocks.ATTENDANCE_ACTION,), subject=action, done=done, reason=action.state)


class AttendanceKind:
    """Fires overdue actions: level 1 the owner, 2 the grade leader, 3 the 管理職."""

    kind = clocks.ATTENDANCE_ACTION

    def fire(self, firings: list[Firing], *, now: datetime, batch: Batch) -> None:
        ids = [f.clock.subject_id for f in firings if f.clock.subject_id]
        locked = {
            a.pk: a
            for a in EarlyAction.objects.select_for_update(skip_locked=True).filter(pk__in=ids)
        }
        existing = set(EarlyAction.objects.filter(pk__in=ids).values_list("pk", flat=True))
        school_ids = {f.clock.owner_agency_id for f in firings}
        schools = Agency.objects.in_bulk(school_ids)
        posts = list(
            StaffPost.objects.filter(
                school_id__in=school_ids,
                role__in=[SchoolRole.GRADE_LEADER, SchoolRole.PRINCIPAL],
            ).values_list("school_id", "role", "grade", "user__email")
        )
        owner_ids = [f.clock.owner_user_id for f in firings if f.clock.owner_user_id]
        owner_mail = dict(
            get_user_model().objects.filter(pk__in=owner_ids).values_list("pk", "email")
        )
        for firing in firings:
            clock = firing.clock
            action = locked.get(clock.subject_id or 0)
            if action is None:
                firing.result = "skip" if clock.subject_id in existing else "stop"
                continue
            if action.state != ActionState.OPEN:
                firing.result = "stop"
                continue
            school = schools[clock.owner_agency_id]
            notify = firing.spec.get("notify", "homeroom")
            grade = clock.context.get("grade")
            if notify == "grade_leader":
                to = [
                    m
                    for s, r, g, m in posts
                    if s == school.pk and r == "grade_leader" and g == grade
                ]
            elif notify == "school_principal":
                to = [m for s, r, _g, m in posts if s == school.pk and r == "principal"]
            else:
                to = [owner_mail.get(clock.owner_user_id or 0, "")]
            payload = clock_payload(EVENT, clock, level=firing.fired, path=_path(clock))
            firing.told = [
                batch.notify(
                    EVENT,
                    agency=school,
                    payload=payload,
                    email_to=emails(*to) or emails(school.intake_email),
                    channels=(Channel.EMAIL,),
                )
            ]
            firing.result = "fired"
            batch.audits.append(_fired(firing, now, notify))


def _fired(firing: Firing, now: datetime, notify: str) -> dict[str, Any]:
    clock = firing.clock
    return {
        "action": AuditAction.CLOCK_FIRED,
        "actor": SYSTEM,
        "object_type": "earlyaction",
        "object_id": clock.subject_id,
        "recipient_agency_id": clock.owner_agency_id,
        "detail": {
            "clock_id": clock.pk,
            "kind": clock.kind,
            "level": firing.fired,
            "notify": notify,
            "repeat": firing.repeat,
            "due_at": clock.due_at.isoformat(),
            "fired_at": now.isoformat(),
            "told": [n["agency_id"] for n in firing.told],
            "notifications": firing.told,
        },
    }


def due_at_of(day: date) -> datetime:
    return datetime.combine(day, time(17, 0), tzinfo=TOKYO)


def register_kinds() -> None:
    """Make the attendance clock known to the sweep (attendance's ready())."""
    register(AttendanceKind())
