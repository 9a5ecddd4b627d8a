"""Permission-filtered reads of attendance: a school's dashboard (its own staff, through
attendance.access) and the ward's aggregated counts (no pupil identifiable: every cell under
5 is suppressed)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency, AgencyKind, Membership
from attendance import access
from attendance.access import SchoolStaff, today
from attendance.calendar import school_year_of, year_bounds
from attendance.models import (
    ActionKind,
    ActionState,
    AttendanceRecord,
    Classroom,
    Closure,
    EarlyAction,
    Enrolment,
    Mark,
    PupilYear,
    RuleSet,
    SchoolRole,
    StaffPost,
)
from attendance.rules import THRESHOLDS, validate_config
from relay.reports import suppress

THRESHOLD_LABELS = {
    "consecutive_3": "連続欠席3日以上",
    "total_7": "欠席7日以上",
    "total_10": "欠席10日以上",
    "total_30": "長期欠席(30日以上)",
}


@dataclass(frozen=True)
class Dashboard:
    week_start: date
    new_this_week: list[EarlyAction]
    thresholds: list[tuple[str, int]]
    open_actions: list[EarlyAction]
    overdue: int
    trend_weeks: list[date]
    trend: list[tuple[str, list[int]]]


def dashboard_for(me: SchoolStaff, *, on: date | None = None, weeks: int = 6) -> Dashboard:
    """The 管理職's (whole school) or a grade leader's (their grade) view of this week."""
    day = on or today()
    year = school_year_of(day)
    week_start = day - timedelta(days=day.weekday())
    pupils = access.pupils_for(me, school_year=year).values("pk")
    actions = EarlyAction.objects.filter(school_id=me.school_id, pupil__in=pupils)
    new = list(
        actions.filter(triggered_on__gte=week_start, triggered_on__lte=day)
        .exclude(kind__in=[ActionKind.PHONE_CALL, ActionKind.CONTACT])
        .select_related("pupil")
        .order_by("-triggered_on", "id")[:200]
    )
    open_actions = list(
        actions.filter(state=ActionState.OPEN)
        .select_related("pupil")
        .order_by("due_on", "id")[:300]
    )
    years = PupilYear.objects.filter(pupil__in=pupils, school_year=year)
    agg = years.aggregate(
        **{
            code: Count("pk", filter=Q(**{f"{counter}__gte": value}))
            for code, counter, value in THRESHOLDS
        }
    )
    thresholds = [(THRESHOLD_LABELS[code], agg[code] or 0) for code, _c, _v in THRESHOLDS]
    first = week_start - timedelta(weeks=weeks - 1)
    rooms: dict[int, int] = {}
    labels: dict[int, str] = {}
    for pid, room_id, grade, name in Enrolment.objects.filter(
        school_year=year, pupil__in=pupils
    ).values_list("pupil_id", "classroom_id", "classroom__grade", "classroom__name"):
        rooms[pid] = room_id
        labels[room_id] = f"{grade}年{name}組"
    counts: dict[int, Counter[int]] = defaultdict(Counter)
    for pid, d in AttendanceRecord.objects.filter(
        pupil__in=pupils, mark=Mark.ABSENT, day__gte=first, day__lte=day
    ).values_list("pupil_id", "day"):
        if pid in rooms:
            counts[rooms[pid]][(d - first).days // 7] += 1
    trend = [
        (labels[room], [counts[room][w] for w in range(weeks)])
        for room in sorted(labels, key=lambda r: labels[r])
    ]
    return Dashboard(
        week_start=week_start,
        new_this_week=new,
        thresholds=thresholds,
        open_actions=open_actions,
        overdue=sum(1 for a in open_actions if a.due_on < day),
        trend_weeks=[first + timedelta(weeks=w) for w in range(weeks)],
        trend=trend,
    )


@dataclass(frozen=True)
class WardRow:
    school: Agency
    cells: list[int | None]  # per THRESHOLDS, suppressed


def ward_counts(*, municipality: str, school_year: int) -> list[WardRow]:
    """Per school of the municipality, pupils over each threshold this school year."""
    schools = list(
        Agency.objects.filter(kind=AgencyKind.SCHOOL, municipality=municipality).order_by("name")
    )
    rows = (
        PupilYear.objects.filter(school__in=schools, school_year=school_year)
        .values("school_id")
        .annotate(
            **{
                code: Count("pk", filter=Q(**{f"{counter}__gte": value}))
                for code, counter, value in THRESHOLDS
            }
        )
    )
    by_school: dict[int, dict[str, Any]] = {r["school_id"]: dict(r) for r in rows}
    return [
        WardRow(
            school=s,
            cells=[
                suppress(int(by_school.get(s.pk, {}).get(code, 0))) for code, _c, _v in THRESHOLDS
            ],
        )
        for s in schools
    ]


MONTHLY_HEADER = [
    "学校名",
    "年月",
    "当月に欠席のあった児童生徒",
    "連続欠席3日に達した",
    "断続欠席7日に達した",
    "欠席10日に達した",
    "長期欠席(30日以上・年度累計)",
    "うち病気",
    "うち経済的理由",
    "うち不登校",
    "うちその他",
]


def monthly_rows(*, municipality: str, month: date) -> list[list[Any]]:
    """The monthly count report the board of education asks for: per school, suppressed."""
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    year = school_year_of(first)
    out: list[list[Any]] = []
    for school in Agency.objects.filter(kind=AgencyKind.SCHOOL, municipality=municipality).order_by(
        "name"
    ):
        absent = (
            AttendanceRecord.objects.filter(
                school=school, mark=Mark.ABSENT, day__range=(first, last)
            )
            .values("pupil_id")
            .distinct()
            .count()
        )
        reached = Counter(
            EarlyAction.objects.filter(
                school=school, triggered_on__range=(first, last)
            ).values_list("rule", flat=True)
        )
        long_term = PupilYear.objects.filter(school=school, school_year=year, total__gte=30)
        reasons = Counter(long_term.values_list("long_term_reason", flat=True))
        cells = [
            absent,
            reached["consecutive_3"],
            reached["intermittent_7"],
            reached["ten_days"],
            long_term.count(),
            reasons["illness"],
            reasons["economic"],
            reasons["school_refusal"],
            reasons["other"],
        ]
        out.append(
            [
                school.name,
                first.strftime("%Y-%m"),
                *["5未満" if suppress(c) is None else c for c in cells],
            ]
        )
    return out


# --- set-up screens (the school's 管理職; attendance.access.school_admin checks first) ------


def setup_classrooms(*, school: Agency, school_year: int | None = None) -> QuerySet[Classroom]:
    """The school's classes (of a school year), with how many pupils each has."""
    rooms = Classroom.objects.filter(school=school)
    if school_year is not None:
        rooms = rooms.filter(school_year=school_year)
    return rooms.annotate(pupils=Count("enrolments")).order_by("school_year", "grade", "name")


def setup_posts(*, school: Agency) -> QuerySet[StaffPost]:
    return (
        StaffPost.objects.filter(school=school)
        .select_related("user", "classroom")
        .order_by("role", "grade", "classroom__name", "user__username")
    )


def school_members(*, school: Agency) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(agency=school).select_related("user").order_by("user__username")
    )


def setup_closures(*, school: Agency, school_year: int) -> QuerySet[Closure]:
    start, end = year_bounds(school_year)
    return Closure.objects.filter(school=school, end__gte=start, start__lte=end).order_by("start")


@dataclass(frozen=True)
class RuleRow:
    code: str
    threshold: str
    kind: str
    owner: str
    due_days: int


COUNTER_LABELS = {"consecutive": _("連続欠席"), "total": _("4月からの欠席")}


def rules_table(config: dict[str, Any]) -> list[RuleRow]:
    """A rule set in words, for the rules screen."""
    rows = []
    for rule in config.get("rules") or []:
        counter = str(COUNTER_LABELS.get(rule.get("counter", ""), rule.get("counter", "")))
        if "at" in rule:
            threshold = _("%(counter)s %(n)s 日目") % {"counter": counter, "n": rule["at"]}
        else:
            threshold = _("%(counter)s %(a)s〜%(b)s 日目") % {
                "counter": counter,
                "a": rule.get("from"),
                "b": rule.get("to"),
            }
        if rule.get("new_run"):
            threshold = _("%(t)s(新たな欠席の初日)") % {"t": threshold}
        rows.append(
            RuleRow(
                code=str(rule.get("code", "")),
                threshold=str(threshold),
                kind=str(ActionKind(rule["kind"]).label)
                if rule.get("kind") in ActionKind.values
                else "",
                owner=str(SchoolRole(rule["owner"]).label)
                if rule.get("owner") in SchoolRole.values
                else "",
                due_days=int(rule.get("due_days", 0)),
            )
        )
    return rows


def has_own_rules(municipality: str) -> bool:
    """Whether the municipality has its own valid RuleSet (else the Akashi defaults apply)."""
    row = RuleSet.objects.filter(municipality=municipality).first()
    return bool(row and row.config.get("rules") and not validate_config(row.config))
