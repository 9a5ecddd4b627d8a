"""Every write of attendance: school set-up, daily entry, imports, the rules' evaluation,
closing actions, and drafting a referral from a pupil (through relay's services). Audited in
the same transaction; audit details carry ids and counts, never a pupil's initials or name."""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from celery import current_app
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.actors import Staff
from agencies.errors import IllegalTransition, InvalidInput, NotFound
from agencies.models import Agency, AgencyKind, Role
from attendance import access
from attendance.access import SchoolStaff, school_staff, today
from attendance.calendar import (
    add_school_days,
    closed_dates,
    school_calendar,
    school_days,
    school_year_of,
    year_bounds,
)
from attendance.clocks import clock_end, clock_for_action
from attendance.models import (
    ActionKind,
    ActionState,
    AttendanceRecord,
    Classroom,
    Closure,
    EarlyAction,
    Enrolment,
    Mark,
    Pupil,
    PupilYear,
    SchoolRole,
    SituationSheet,
    Source,
    StaffPost,
)
from attendance.record import checklist_clean, situation_clean, special_care_items
from attendance.rules import evaluate, rules_for
from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record, audit_record_many
from duework import policy as clocks_policy
from duework.business_time import BusinessCalendar
from relay.choices import AbsenceReason
from relay.services import sheet_create

log = logging.getLogger(__name__)

RULE_LABELS = {
    "first_day_call": "欠席1日目",
    "second_day_visit": "連続欠席2日目",
    "intermittent_contact": "断続欠席2〜6日目",
    "consecutive_3": "連続欠席3日",
    "intermittent_7": "断続欠席7日",
    "ten_days": "欠席10日",
    "thirty_days": "年間欠席30日",
}

# --- set-up ----------------------------------------------------------------------------------


def _require_setup(staff: Staff) -> SchoolStaff | None:
    return access.school_admin(staff)


def _setup_event(staff: Staff, what: str, object_id: int) -> None:
    audit_record(
        action=AuditAction.SCHOOL_SETUP_CHANGED,
        actor=staff.audit_actor(),
        object_type=what,
        object_id=object_id,
    )


@transaction.atomic
def classroom_create(
    *, staff: Staff, school_year: int, grade: int, name: str, class_type: str = "regular"
) -> Classroom:
    """The school's 管理職 adds a class (学年・組) for a school year."""
    _require_setup(staff)
    room = Classroom(
        school=staff.agency,
        school_year=school_year,
        grade=grade,
        name=name.strip(),
        class_type=class_type,
    )
    _validate(room)
    room.save()
    _setup_event(staff, "classroom", room.pk)
    return room


@transaction.atomic
def post_assign(
    *,
    staff: Staff,
    user: User,
    role: str,
    grade: int | None = None,
    classroom: Classroom | None = None,
) -> StaffPost:
    """Give a member of the school a post (担任 of a class, 学年主任 of a grade, ...). The
    管理職 post needs the membership's supervisor role (it signs sheets off)."""
    _require_setup(staff)
    membership = getattr(user, "membership", None)
    if membership is None or membership.agency_id != staff.agency.pk:
        raise NotFound()
    if role not in SchoolRole.values:
        raise InvalidInput(field="role")
    if role == SchoolRole.PRINCIPAL and membership.role != Role.SUPERVISOR:
        raise InvalidInput(str(_("管理職には管理職の役割の職員だけを充てられます。")), field="role")
    if classroom is not None and classroom.school_id != staff.agency.pk:
        raise NotFound()
    if role == SchoolRole.HOMEROOM and classroom is None:
        raise InvalidInput(field="classroom")
    if role == SchoolRole.GRADE_LEADER and not grade:
        raise InvalidInput(field="grade")
    post, _created = StaffPost.objects.get_or_create(
        user=user,
        school=staff.agency,
        role=role,
        classroom=classroom,
        defaults={"grade": grade or (classroom.grade if classroom else None)},
    )
    _setup_event(staff, "staffpost", post.pk)
    return post


@transaction.atomic
def pupil_register(
    *,
    staff: Staff,
    school_number: str,
    initials: str,
    classroom: Classroom,
    number: int,
    full_name: str = "",
    gender: str = "",
) -> Pupil:
    """Register a pupil under a school-internal number and initials, in a class."""
    _require_setup(staff)
    if classroom.school_id != staff.agency.pk:
        raise NotFound()
    pupil = Pupil.objects.filter(school=staff.agency, school_number=school_number.strip()).first()
    if pupil is None:
        pupil = Pupil(
            school=staff.agency,
            school_number=school_number.strip(),
            initials=initials.strip(),
            full_name=full_name.strip(),
            gender=gender,
        )
        _validate(pupil)
        pupil.save()
    enrolment = Enrolment(
        pupil=pupil, classroom=classroom, school_year=classroom.school_year, number=number
    )
    _validate(enrolment)
    enrolment.save()
    audit_record(
        action=AuditAction.PUPIL_REGISTERED,
        actor=staff.audit_actor(),
        object_type="pupil",
        object_id=pupil.pk,
        detail={"classroom_id": classroom.pk},
    )
    return pupil


@transaction.atomic
def closure_add(*, staff: Staff, start: date, end: date, label: str) -> Closure:
    """A closure of the school (振替休業日, 長期休業): its days are not school days."""
    _require_setup(staff)
    closure = Closure(school=staff.agency, start=start, end=end, label=label.strip())
    _validate(closure)
    closure.save()
    _setup_event(staff, "closure", closure.pk)
    _reevaluate_on_commit(staff.agency, {school_year_of(start), school_year_of(end)})
    return closure


@transaction.atomic
def post_remove(*, staff: Staff, post_id: int) -> None:
    """Take a post away (a teacher leaves the class). The last 管理職 post stays: someone
    must be able to set the school up."""
    _require_setup(staff)
    post = StaffPost.objects.select_for_update().filter(pk=post_id, school=staff.agency).first()
    if post is None:
        raise NotFound()
    if (
        post.role == SchoolRole.PRINCIPAL
        and not StaffPost.objects.filter(school=staff.agency, role=SchoolRole.PRINCIPAL)
        .exclude(pk=post.pk)
        .exists()
    ):
        raise InvalidInput(str(_("最後の管理職の分掌は外せません。")), field="post")
    _setup_event(staff, "staffpost", post.pk)
    post.delete()


@transaction.atomic
def closure_remove(*, staff: Staff, closure_id: int) -> None:
    """Remove a closure: its days count as school days again (re-evaluated on commit)."""
    _require_setup(staff)
    closure = Closure.objects.select_for_update().filter(pk=closure_id, school=staff.agency).first()
    if closure is None:
        raise NotFound()
    _setup_event(staff, "closure", closure.pk)
    years = {school_year_of(closure.start), school_year_of(closure.end)}
    closure.delete()
    _reevaluate_on_commit(staff.agency, years)


def _reevaluate_on_commit(school: Agency, years: set[int]) -> None:
    """A change of the calendar moves counters and due dates: re-evaluate the school's
    pupils after commit (a task; the nightly run would catch it otherwise)."""
    for year in sorted(years):
        transaction.on_commit(partial(evaluate_school_later, school_id=school.pk, school_year=year))


def _validate(row: Any) -> None:
    try:
        row.full_clean()
    except ValidationError as exc:
        name, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(messages[0], field=name, errors=exc.message_dict) from exc


# --- evaluation ------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What one evaluation changed (for the audit event and the caller)."""

    created: list[int] = field(default_factory=list)
    withdrawn: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    backfilled: list[int] = field(default_factory=list)


def _last_year_total(pupil: Pupil, school_year: int) -> int | None:
    start, end = year_bounds(school_year - 1)
    records = AttendanceRecord.objects.filter(pupil=pupil, day__range=(start, end))
    if not records.exists():
        return None
    calendar = school_calendar(pupil.school, within=(start, end))
    days = records.filter(mark=Mark.ABSENT).values_list("day", flat=True)
    return sum(1 for d in days if calendar.is_business_day(d))


def _homeroom_of(pupil: Pupil, school_year: int) -> int | None:
    enrolment = pupil.enrolments.filter(school_year=school_year).first()
    if enrolment is None:
        return None
    return (
        StaffPost.objects.filter(role=SchoolRole.HOMEROOM, classroom_id=enrolment.classroom_id)
        .order_by("id")
        .values_list("user_id", flat=True)
        .first()
    )


@dataclass
class Preloaded:
    """What a batch read for one pupil: the year's marks, counters row and actions (locked
    by the batch), and the year's school days; saves a pupil its own queries."""

    marks: dict[date, str]
    year: PupilYear | None
    actions: list[EarlyAction]
    school_days: list[date]
    window: int


def pupil_evaluate(
    *,
    pupil: Pupil,
    school_year: int,
    actor: Actor,
    calendar: BusinessCalendar | None = None,
    config: dict[str, Any] | None = None,
    preloaded: Preloaded | None = None,
) -> Evaluation:
    """Recompute a pupil's counters for a school year from the records and bring the actions
    in line: new thresholds create actions (with their clocks), thresholds no longer reached
    (a corrected record) withdraw open ones. Idempotent: when nothing changed nothing is
    written. Inside the caller's transaction."""
    school = pupil.school
    start, end = year_bounds(school_year)
    calendar = calendar or school_calendar(school, within=(start, end))
    config = config or rules_for(school.municipality)
    if preloaded is None:
        marks = dict(
            AttendanceRecord.objects.filter(pupil=pupil, day__range=(start, end)).values_list(
                "day", "mark"
            )
        )
        last = max(marks) if marks else start
        days: Iterable[date] = school_days(calendar, start, last)
        year = PupilYear.objects.filter(pupil=pupil, school_year=school_year).first()
        locked = list(
            EarlyAction.objects.select_for_update().filter(pupil=pupil, school_year=school_year)
        )
        window = escalation_window_days(school)
    else:
        marks = preloaded.marks
        last = max(marks) if marks else start
        days = preloaded.school_days[: bisect_right(preloaded.school_days, last)]
        year, locked, window = preloaded.year, preloaded.actions, preloaded.window
    counters, triggers = evaluate(((d, marks.get(d)) for d in days), config)
    if year is None:
        year = PupilYear(
            pupil=pupil,
            school=school,
            school_year=school_year,
            last_year_total=_last_year_total(pupil, school_year),
        )
    values = {
        "consecutive": counters.consecutive,
        "longest_run": counters.longest_run,
        "total": counters.total,
        "last_absent_on": counters.last_absent_on,
        "long_term": counters.total >= _long_term_days(config),
        "evaluated_through": last,
    }
    changed = [name for name, value in values.items() if getattr(year, name) != value]
    for name in changed:
        setattr(year, name, values[name])
    if year.pk is None:
        year.save()
    elif changed:
        year.save(update_fields=[*changed, "updated_at"])

    result = Evaluation()
    existing = {(a.rule, a.trigger_key): a for a in locked}
    wanted = {(t.rule, t.trigger_key): t for t in triggers}
    homeroom: int | bool | None = False
    now = today()
    for key, trigger in wanted.items():
        action = existing.get(key)
        if action is not None and action.state != ActionState.WITHDRAWN:
            continue
        if homeroom is False:
            homeroom = _homeroom_of(pupil, school_year)
        due_on = add_school_days(calendar, trigger.triggered_on, trigger.due_days)
        state = ActionState.OPEN
        if add_school_days(calendar, due_on, window) < now:
            # The whole escalation window has passed before the records arrived (a
            # backfilled import, a late correction): a day's call or a finished run's visit
            # is history, kept closed as backfilled; a threshold that still describes the
            # pupil (the year's 7/10/30 days, a run still going) is due from today instead.
            still_true = trigger.trigger_key.startswith("year:")
            if trigger.trigger_key.startswith("run:") and counters.run_start is not None:
                still_true = trigger.trigger_key == f"run:{counters.run_start.isoformat()}"
            if still_true:
                due_on = add_school_days(calendar, now, trigger.due_days)
            else:
                state = ActionState.BACKFILLED
        if action is None:
            action = EarlyAction.objects.create(
                pupil=pupil,
                school=school,
                school_year=school_year,
                kind=trigger.kind,
                rule=trigger.rule,
                trigger_key=trigger.trigger_key,
                triggered_on=trigger.triggered_on,
                consecutive=trigger.consecutive,
                total=trigger.total,
                owner_role=trigger.owner,
                due_on=due_on,
                state=state,
                closed_at=timezone.now() if state == ActionState.BACKFILLED else None,
            )
        else:
            action.state = state
            action.due_on = due_on
            action.closed_at = timezone.now() if state == ActionState.BACKFILLED else None
            action.save(update_fields=["state", "due_on", "closed_at"])
        if state == ActionState.BACKFILLED:
            result.backfilled.append(action.pk)
            continue
        (result.reopened if key in existing else result.created).append(action.pk)
        clock_for_action(action, school=school, homeroom_user_id=homeroom or None)
    for key, action in existing.items():
        if key not in wanted and action.state in (ActionState.OPEN, ActionState.BACKFILLED):
            was_open = action.state == ActionState.OPEN
            action.state = ActionState.WITHDRAWN
            action.closed_at = timezone.now()
            action.save(update_fields=["state", "closed_at"])
            if was_open:
                clock_end(action, done=False)
            result.withdrawn.append(action.pk)
    events = [
        {
            "action": action_type,
            "actor": actor,
            "object_type": "earlyaction",
            "object_id": pk,
            "detail": {"pupil_id": pupil.pk},
        }
        for action_type, pks in (
            (AuditAction.EARLY_ACTION_CREATED, result.created + result.reopened),
            (AuditAction.EARLY_ACTION_BACKFILLED, result.backfilled),
            (AuditAction.EARLY_ACTION_WITHDRAWN, result.withdrawn),
        )
        for pk in pks
    ]
    audit_record_many(events)
    return result


def escalation_window_days(school: Agency) -> int:
    """School days from an action's due date to its last escalation level (the policy's
    `after_hours` summed, a school day being the business day's hours): after that no
    reminder would reach anyone any more, so an action due before it is history."""
    policy = clocks_policy.policy_for(clocks_policy.ATTENDANCE_ACTION, agency=school)
    hours = sum(int(level.get("after_hours", 0)) for level in policy.get("levels", []))
    day_hours = 8
    return max(1, -(-hours // day_hours))


def _long_term_days(config: dict[str, Any]) -> int:
    for rule in config.get("rules") or []:
        if rule.get("kind") == ActionKind.LONG_TERM and "at" in rule:
            return int(rule["at"])
    return 30


BATCH = 250


def pupils_evaluate(
    *,
    school: Agency,
    pupil_ids: Iterable[int],
    school_year: int,
    actor: Actor,
    calendar: BusinessCalendar | None = None,
    config: dict[str, Any] | None = None,
) -> int:
    """Evaluate pupils of one school in one pass: their records, counters and actions read
    in three queries (the actions locked), then each pupil in memory. Inside the caller's
    transaction; returns how many pupils."""
    ids = list(pupil_ids)
    if not ids:
        return 0
    start, end = year_bounds(school_year)
    calendar = calendar or school_calendar(school, within=(start, end))
    config = config or rules_for(school.municipality)
    window = escalation_window_days(school)
    year_days = list(school_days(calendar, start, end))
    marks: dict[int, dict[date, str]] = defaultdict(dict)
    for pid, day, mark in AttendanceRecord.objects.filter(
        pupil_id__in=ids, day__range=(start, end)
    ).values_list("pupil_id", "day", "mark"):
        marks[pid][day] = mark
    years = {
        y.pupil_id: y for y in PupilYear.objects.filter(pupil_id__in=ids, school_year=school_year)
    }
    actions: dict[int, list[EarlyAction]] = defaultdict(list)
    for action in EarlyAction.objects.select_for_update().filter(
        pupil_id__in=ids, school_year=school_year
    ):
        actions[action.pupil_id].append(action)
    count = 0
    for pupil in Pupil.objects.filter(pk__in=ids, school=school).order_by("pk"):
        pupil.school = school
        pupil_evaluate(
            pupil=pupil,
            school_year=school_year,
            actor=actor,
            calendar=calendar,
            config=config,
            preloaded=Preloaded(
                marks=marks.get(pupil.pk, {}),
                year=years.get(pupil.pk),
                actions=actions.get(pupil.pk, []),
                school_days=year_days,
                window=window,
            ),
        )
        count += 1
    return count


def school_evaluate(*, school: Agency, school_year: int) -> int:
    """Re-evaluate every pupil of a school for a school year (the nightly run and after a
    change of the rules or the closures), in batches of BATCH pupils, one transaction each;
    returns how many pupils. Idempotent: a second run writes and audits nothing."""
    start, end = year_bounds(school_year)
    calendar = school_calendar(school, within=(start, end))
    config = rules_for(school.municipality)
    actor = Actor.system("attendance")
    ids = list(
        Pupil.objects.filter(school=school, enrolments__school_year=school_year)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    count = 0
    for first in range(0, len(ids), BATCH):
        with transaction.atomic():
            count += pupils_evaluate(
                school=school,
                pupil_ids=ids[first : first + BATCH],
                school_year=school_year,
                actor=actor,
                calendar=calendar,
                config=config,
            )
    return count


@dataclass(frozen=True)
class NightlyRun:
    schools: int
    pupils: int
    school_year: int


def schools_evaluate(
    *, school_year: int | None = None, slugs: list[str] | None = None
) -> NightlyRun:
    """The nightly re-evaluation: every school (or the named ones) for the school year of
    today; one audit event for the run (ids and counts). Safe to run twice."""
    year = school_year if school_year is not None else school_year_of(today())
    schools = Agency.objects.filter(kind=AgencyKind.SCHOOL).order_by("pk")
    if slugs:
        schools = schools.filter(slug__in=slugs)
    done = pupils = 0
    for school in schools:
        pupils += school_evaluate(school=school, school_year=year)
        done += 1
    with transaction.atomic():
        audit_record(
            action=AuditAction.ATTENDANCE_EVALUATED,
            actor=Actor.system("attendance"),
            object_type="school_year",
            object_id=year,
            detail={"schools": done, "pupils": pupils},
        )
    return NightlyRun(schools=done, pupils=pupils, school_year=year)


EVALUATE_SCHOOL_TASK = "attendance.tasks.evaluate_school"


def evaluate_school_later(*, school_id: int, school_year: int) -> None:
    """After commit: hand a school's re-evaluation to a worker. Never raises: if the broker
    is down, the nightly run catches the school up."""
    try:
        current_app.send_task(
            EVALUATE_SCHOOL_TASK, kwargs={"school_id": school_id, "school_year": school_year}
        )
    except Exception as exc:  # kombu OperationalError, redis/socket errors, ...
        log.warning("broker unavailable, school %s left for the nightly run: %s", school_id, exc)


# --- entry and import ------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One pupil's mark on one day, as a form or an import row gives it."""

    pupil_id: int
    day: date
    mark: str
    reason: str = ""


@dataclass
class WriteResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    closed_days: int = 0
    pupils: set[int] = field(default_factory=set)


def _write(
    entries: Iterable[Entry], *, school: Agency, user: User | None, source: str
) -> WriteResult:
    """Upsert entries (one row per pupil and day; an identical row is left alone)."""
    entries = list(entries)
    result = WriteResult()
    if not entries:
        return result
    pupil_ids = {e.pupil_id for e in entries}
    days = {e.day for e in entries}
    current = {
        (r.pupil_id, r.day): r
        for r in AttendanceRecord.objects.select_for_update().filter(
            pupil_id__in=pupil_ids, day__in=days
        )
    }
    closed = closed_dates(school, within=(min(days), max(days)))
    calendar = BusinessCalendar(closed_days=frozenset(closed))
    new: list[AttendanceRecord] = []
    for e in entries:
        if not calendar.is_business_day(e.day):
            result.closed_days += 1
        reason = e.reason if e.mark == Mark.ABSENT else ""
        row = current.get((e.pupil_id, e.day))
        if row is None:
            new.append(
                AttendanceRecord(
                    pupil_id=e.pupil_id,
                    school=school,
                    day=e.day,
                    mark=e.mark,
                    reason=reason,
                    source=source,
                    recorded_by=user,
                )
            )
            result.created += 1
            result.pupils.add(e.pupil_id)
        elif (row.mark, row.reason) != (e.mark, reason):
            row.mark, row.reason, row.source, row.recorded_by = e.mark, reason, source, user
            row.save(update_fields=["mark", "reason", "source", "recorded_by", "updated_at"])
            result.updated += 1
            result.pupils.add(e.pupil_id)
        else:
            result.unchanged += 1
    AttendanceRecord.objects.bulk_create(new, batch_size=1000)
    return result


def _evaluate_changed(school: Agency, result: WriteResult, days: set[date], actor: Actor) -> None:
    for year in sorted({school_year_of(d) for d in days}):
        pupils_evaluate(school=school, pupil_ids=result.pupils, school_year=year, actor=actor)


def _check_entry(entry: Entry) -> None:
    if entry.mark not in Mark.values:
        raise InvalidInput(field="mark", pupil_id=entry.pupil_id)
    if entry.reason and entry.reason not in AbsenceReason.values:
        raise InvalidInput(field="reason", pupil_id=entry.pupil_id)


@transaction.atomic
def attendance_enter(
    *, staff: Staff, classroom_id: int, day: date, marks: dict[int, tuple[str, str]]
) -> WriteResult:
    """A teacher enters one class's day: {pupil id: (mark, reason class)}. Pupils not in the
    class, a closed day or a future day are refused; nothing is written then."""
    me = school_staff(staff)
    room = access.classroom_for(me, classroom_id)
    if day > today():
        raise InvalidInput(str(_("未来の日付には入力できません。")), field="day")
    if school_year_of(day) != room.school_year:
        raise InvalidInput(str(_("学級の年度外の日付です。")), field="day")
    if not school_calendar(room.school, within=(day, day)).is_business_day(day):
        raise InvalidInput(str(_("休業日には入力できません。")), field="day")
    enrolled = set(room.enrolments.values_list("pupil_id", flat=True))
    if not set(marks) <= enrolled:
        raise NotFound()
    entries = [Entry(pid, day, m, r) for pid, (m, r) in marks.items() if m]
    for entry in entries:
        _check_entry(entry)
    result = _write(entries, school=room.school, user=staff.person, source=Source.ENTRY)
    audit_record(
        action=AuditAction.ATTENDANCE_RECORDED,
        actor=staff.audit_actor(),
        object_type="classroom",
        object_id=room.pk,
        detail={
            "day": day.isoformat(),
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
        },
    )
    _evaluate_changed(room.school, result, {day}, staff.audit_actor())
    return result


@transaction.atomic
def attendance_import(
    *, school: Agency, entries: list[Entry], actor: Actor, user: User | None, rejected: int = 0
) -> WriteResult:
    """Write validated import rows of one school (attendance.importing parses and checks)."""
    result = _write(entries, school=school, user=user, source=Source.IMPORT)
    audit_record(
        action=AuditAction.ATTENDANCE_IMPORTED,
        actor=actor,
        object_type="school",
        object_id=school.pk,
        detail={
            "rows": len(entries),
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "closed_days": result.closed_days,
            "rejected": rejected,
        },
    )
    _evaluate_changed(school, result, {e.day for e in entries}, actor)
    return result


# --- actions ---------------------------------------------------------------------------------


def _action_for(me: SchoolStaff, action_id: int) -> EarlyAction:
    action = (
        EarlyAction.objects.select_for_update().filter(pk=action_id, school_id=me.school_id).first()
    )
    if action is None:
        raise NotFound()
    access.pupil_for(me, action.pupil_id)  # NotFound when the pupil is not theirs
    return action


@transaction.atomic
def action_complete(
    *, staff: Staff, action_id: int, checklist: dict[str, Any], note: str = ""
) -> EarlyAction:
    """Record an action as done, with the manual's checklist. At 30 days the reason class is
    required and becomes the year's 長期欠席 reason."""
    me = school_staff(staff)
    action = _action_for(me, action_id)
    if action.state != ActionState.OPEN:
        raise IllegalTransition()
    action.checklist = checklist_clean(action.kind, checklist)
    action.note = note.strip()[:4000]
    return _close(action, staff, ActionState.DONE)


@transaction.atomic
def action_skip(*, staff: Staff, action_id: int, reason: str) -> EarlyAction:
    """Record that an action is not taken, and why (the reason is required)."""
    me = school_staff(staff)
    action = _action_for(me, action_id)
    if action.state != ActionState.OPEN:
        raise IllegalTransition()
    if not reason.strip():
        raise InvalidInput(str(_("対応しない理由を入力してください。")), field="skip_reason")
    if action.kind == ActionKind.LONG_TERM:
        # 長期欠席 is a fact of the year, not a step one may skip: it needs its reason class.
        raise InvalidInput(str(_("長期欠席は理由の分類を記録してください。")), field="reason_class")
    action.skip_reason = reason.strip()[:2000]
    return _close(action, staff, ActionState.SKIPPED)


def _close(action: EarlyAction, staff: Staff, state: str) -> EarlyAction:
    action.state = state
    action.closed_by = staff.person
    action.closed_at = timezone.now()
    action.save(
        update_fields=["state", "checklist", "note", "skip_reason", "closed_by", "closed_at"]
    )
    if action.kind == ActionKind.LONG_TERM and state == ActionState.DONE:
        PupilYear.objects.filter(pupil_id=action.pupil_id, school_year=action.school_year).update(
            long_term_reason=action.checklist["reason_class"]
        )
    clock_end(action, done=True)
    audit_record(
        action=AuditAction.EARLY_ACTION_CLOSED,
        actor=staff.audit_actor(),
        object_type="earlyaction",
        object_id=action.pk,
        detail={
            "state": state,
            "kind": action.kind,
            "fields": sorted(k for k, v in action.checklist.items() if v),
        },
    )
    return action


# --- from attendance to referral -------------------------------------------------------------


REFERRAL_KINDS = frozenset(
    {ActionKind.SHARE_REPORT, ActionKind.LONG_ABSENCE_SHEET, ActionKind.LONG_TERM}
)


@dataclass(frozen=True)
class AttendanceSummary:
    """The attendance section of a 相談シート / 実態把握シート, from the records."""

    month: int
    since_april: int
    last_year: int | None
    reason: str


def attendance_summary(pupil: Pupil, *, on: date) -> AttendanceSummary:
    """Absence days this month, since April and last year, and the reason class most
    recorded this year (the 30-day action's recorded class wins)."""
    year = school_year_of(on)
    start, end = year_bounds(year)
    calendar = school_calendar(pupil.school, within=(start, end))
    absent = list(
        AttendanceRecord.objects.filter(
            pupil=pupil, day__range=(start, on), mark=Mark.ABSENT
        ).values_list("day", "reason")
    )
    counted = [(d, r) for d, r in absent if calendar.is_business_day(d)]
    month = sum(1 for d, _r in counted if (d.year, d.month) == (on.year, on.month))
    row = PupilYear.objects.filter(pupil=pupil, school_year=year).first()
    last_year = row.last_year_total if row else _last_year_total(pupil, year)
    reason = row.long_term_reason if row and row.long_term_reason else ""
    if not reason:
        tally: dict[str, int] = {}
        for _d, r in counted:
            if r:
                tally[r] = tally.get(r, 0) + 1
        reason = max(sorted(tally), key=lambda k: tally[k]) if tally else ""
    return AttendanceSummary(
        month=month, since_april=len(counted), last_year=last_year, reason=reason
    )


WILL_TO_SHEET = {
    "very_weak": "very_weak",
    "weak": "weak",
    "strong": "strong",
    "very_strong": "very_strong",
}


def _sheet_data(
    pupil: Pupil, summary: AttendanceSummary, situation: dict[str, Any], consultation: str
) -> dict[str, Any]:
    enrolment = pupil.enrolments.select_related("classroom").order_by("-school_year").first()
    level = getattr(getattr(pupil.school, "school_profile", None), "level", "")
    grade = ""
    if enrolment is not None:
        prefix = "j" if level == "junior_high" else "e"
        grade = f"{prefix}{enrolment.classroom.grade}"
    traits = situation.get("traits", [])
    school_life = "; ".join(
        str(label)
        for name, label in (
            ("staff_relation", "教職員との関係: 気になる様子あり"),
            ("peer_relation", "友人関係/集団内: 気になる様子あり"),
        )
        if situation.get(name) == "concern"
    )
    if "learning_delay" in traits:
        school_life = "; ".join(filter(None, [school_life, "学業不振がある"]))
    if "peer_trouble" in traits:
        school_life = "; ".join(filter(None, [school_life, "友人とトラブルになりやすい"]))
    developmental = "; ".join(
        filter(
            None,
            [
                "発達障害の傾向が見られる" if "developmental" in traits else "",
                "何らかの障害・疾患を持っている" if "disability_illness" in traits else "",
                situation.get("traits_note", ""),
            ],
        )
    )
    data: dict[str, Any] = {
        "subject_initials": pupil.initials,
        "grade": grade,
        "school_name": pupil.school.name,
        "municipality": pupil.school.municipality,
        "consulted_on": today(),
        "consulter": "school",
        "consultation": consultation,
        "categories": ["school_refusal"] if summary.reason in ("", "school_refusal") else [],
        "absence_days_month": summary.month,
        "absence_days_since_april": summary.since_april,
        "absence_days_last_year": summary.last_year,
        "absence_reason": summary.reason,
        "attendance_will": WILL_TO_SHEET.get(situation.get("will_child", ""), ""),
        "school_life": school_life,
        "family_structure": situation.get("family", ""),
        "home_situation": "\n".join(
            filter(None, [situation.get("home_life", ""), situation.get("home_note", "")])
        ),
        "developmental_traits": developmental,
        "interests": situation.get("likes", ""),
        "support_policy": situation.get("policy", ""),
        "connections": sorted(
            _set_union(situation.get("sc_link") == "yes", "sc")
            | _set_union(situation.get("ssw_link") == "yes", "ssw")
            | _set_union("child_guidance" in situation.get("agencies", []), "child_guidance")
            | _set_union(
                "development_center" in situation.get("agencies", []), "development_center"
            )
        ),
    }
    if enrolment is not None and enrolment.classroom.class_type == "special_needs":
        data["class_type"] = "special_needs"
    if pupil.gender in ("male", "female"):
        data["gender"] = pupil.gender
    return data


def _set_union(flag: bool, value: str) -> set[str]:
    return {value} if flag else set()


@dataclass(frozen=True)
class Drafted:
    sheet_id: int
    situation: SituationSheet
    special_care: list[str]


@transaction.atomic
def referral_draft(
    *,
    staff: Staff,
    action_id: int,
    situation: dict[str, Any],
    consultation: str,
) -> Drafted:
    """From a pupil's 3/7-day (or 10/30-day) action: save the 実態把握シート in the school and
    draft the 相談シート (a つなぐシート) with its attendance section filled from the records,
    through relay's sheet service (relay.services.sheet_create). The sheet
    then follows the normal consent → approval → send path; nothing has left the school."""
    me = school_staff(staff)
    action = _action_for(me, action_id)
    if action.kind not in REFERRAL_KINDS:
        raise IllegalTransition()
    if action.sheet_id is not None:
        raise IllegalTransition(str(_("この対応からは相談シートを作成済みです。")))
    fields = situation_clean(situation)
    pupil = action.pupil
    summary = attendance_summary(pupil, on=today())
    fields["absence_days_month"] = summary.month
    fields["absence_days_since_april"] = summary.since_april
    fields["absence_days_last_year"] = summary.last_year
    fields["absence_reason"] = summary.reason
    # The sheet's own text stays Japanese whatever the screen's language: it is the document.
    rule = RULE_LABELS.get(action.rule, action.rule)
    text = consultation.strip() or (
        f"欠席が続いています(基準: {rule})。早期の支援策について相談します。"
    )
    sheet = sheet_create(staff=staff, data=_sheet_data(pupil, summary, fields, text))
    sheet_id = int(sheet.pk)
    row = SituationSheet.objects.create(
        pupil=pupil,
        school=pupil.school,
        action=action,
        fields=fields,
        sheet_id=sheet_id,
        written_by=staff.person,
        written_on=today(),
    )
    action.sheet_id = sheet_id
    action.save(update_fields=["sheet_id"])
    flagged = special_care_items(fields)
    audit_record(
        action=AuditAction.SITUATION_SHEET_SAVED,
        actor=staff.audit_actor(),
        object_type="situationsheet",
        object_id=row.pk,
        sheet_id=sheet_id,
        detail={"pupil_id": pupil.pk, "action_id": action.pk, "special_care": flagged},
    )
    return Drafted(sheet_id=sheet_id, situation=row, special_care=flagged)
