"""The Akashi manual's thresholds as dated actions, with injected time across a weekend, a
national holiday (敬老の日 2025-09-15) and the school's closure day (2025-09-16)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from attendance import services
from attendance.models import ActionState, EarlyAction, PupilYear
from audit.context import Actor
from duework.business_time import TOKYO
from duework.models import Clock
from duework.services import sweep_due
from notifications.models import OutboxMessage

D = date


def absent(s, pupil, *days, mark="absent", reason=""):
    entries = [services.Entry(pupil.pk, d, mark, reason) for d in days]
    services.attendance_import(
        school=s.school, entries=entries, actor=Actor.system("test"), user=None
    )


def actions(pupil):
    return [
        (a.rule, a.kind, a.owner_role, a.triggered_on, a.due_on, a.state)
        for a in EarlyAction.objects.filter(pupil=pupil).order_by("triggered_on", "id")
    ]


def test_consecutive_days_across_weekend_holiday_and_closure(akashi, travel):
    """GIVEN absences Thu 9/11, Fri 9/12 and Wed 9/17 (weekend, 敬老の日 and the school's
    closure between) WHEN evaluated THEN day 1 a call, day 2 a visit, day 3 the sharing, due
    the next school day (Thu 9/18), all owned by the 担任."""
    p = akashi.pupils[0]
    with travel(D(2025, 9, 17)):
        absent(akashi, p, D(2025, 9, 11), D(2025, 9, 12), D(2025, 9, 17))
    assert actions(p) == [
        ("first_day_call", "phone_call", "homeroom", D(2025, 9, 11), D(2025, 9, 11), "open"),
        ("second_day_visit", "home_visit", "homeroom", D(2025, 9, 12), D(2025, 9, 12), "open"),
        ("consecutive_3", "share_report", "homeroom", D(2025, 9, 17), D(2025, 9, 18), "open"),
    ]
    year = PupilYear.objects.get(pupil=p, school_year=2025)
    assert (year.consecutive, year.total) == (3, 3)


def test_due_date_in_school_days_skips_weekend_holiday_and_closure(akashi, travel):
    """Three days Wed 9/10–Fri 9/12: the sharing is due one school day later, which is Wed
    9/17 (Sat, Sun, 敬老の日 and the 振替休業日 are not school days)."""
    p = akashi.pupils[1]
    with travel(D(2025, 9, 12)):
        absent(akashi, p, D(2025, 9, 10), D(2025, 9, 11), D(2025, 9, 12))
    share = EarlyAction.objects.get(pupil=p, rule="consecutive_3")
    assert share.due_on == D(2025, 9, 17)
    clock = Clock.objects.get(kind="attendance.action", subject_id=share.pk)
    assert clock.due_at == datetime.combine(D(2025, 9, 17), time(17), tzinfo=TOKYO)
    assert clock.owner_user_id == akashi.teacher.user_id


def test_attendance_resets_the_run_and_intermittent_days_get_a_contact(akashi, travel):
    """Absent 9/10, 9/11, present 9/12, absent 9/17: no sharing; 9/17 is the third day of the
    year on a new run, so a phone call or visit (断続欠席2〜6日目)."""
    p = akashi.pupils[2]
    with travel(D(2025, 9, 17)):
        absent(akashi, p, D(2025, 9, 10), D(2025, 9, 11))
        absent(akashi, p, D(2025, 9, 12), mark="present")
        absent(akashi, p, D(2025, 9, 17))
    assert [(r, k) for r, k, *_ in actions(p)] == [
        ("first_day_call", "phone_call"),
        ("second_day_visit", "home_visit"),
        ("intermittent_contact", "contact"),
    ]
    assert PupilYear.objects.get(pupil=p).consecutive == 1


def test_suspension_and_mourning_neither_count_nor_break_a_run(akashi, travel):
    p = akashi.pupils[3]
    with travel(D(2025, 9, 12)):
        absent(akashi, p, D(2025, 9, 9), D(2025, 9, 11))
        absent(akashi, p, D(2025, 9, 10), mark="suspended")
    year = PupilYear.objects.get(pupil=p)
    assert (year.consecutive, year.total) == (2, 2)


def test_intermittent_days_accumulate_over_the_year_and_a_new_year_starts_fresh(akashi, travel):
    """Every other school day absent from April: the 7th day shares, the 10th asks for the
    long-absence sheet, the 30th flags 長期欠席; in April 2026 the count restarts, last year's
    30 carried as 昨年度欠席日数."""
    from attendance.calendar import school_calendar, school_days

    p = akashi.pupils[4]
    cal = school_calendar(akashi.school)
    every = list(school_days(cal, D(2025, 4, 7), D(2025, 8, 1)))[:60]
    days = every[::2]
    with travel(D(2025, 9, 30)):
        # Days not entered neither count nor break a run: the days between are entered too.
        entries = [services.Entry(p.pk, d, "absent" if d in days else "present") for d in every]
        services.attendance_import(
            school=akashi.school, entries=entries, actor=Actor.system("test"), user=None
        )
    rules = [r for r, *_ in actions(p)]
    assert rules.count("intermittent_7") == 1
    assert rules.count("ten_days") == 1
    assert rules.count("thirty_days") == 1
    assert rules.count("consecutive_3") == 0
    assert rules.count("intermittent_contact") == 5  # days 2–6
    seventh = EarlyAction.objects.get(pupil=p, rule="intermittent_7")
    assert seventh.triggered_on == days[6] and seventh.total == 7
    year = PupilYear.objects.get(pupil=p, school_year=2025)
    assert year.total == 30 and year.long_term
    services.classroom_create(staff=akashi.principal, school_year=2026, grade=3, name="1")
    room = akashi.school.classrooms.get(school_year=2026)
    from attendance.models import Enrolment

    Enrolment.objects.create(pupil=p, classroom=room, school_year=2026, number=5)
    with travel(D(2026, 4, 8)):
        absent(akashi, p, D(2026, 4, 8))
    new = PupilYear.objects.get(pupil=p, school_year=2026)
    assert (new.total, new.last_year_total) == (1, 30)
    assert EarlyAction.objects.filter(pupil=p, school_year=2026).get().rule == "first_day_call"


def test_reimport_changes_nothing_and_a_correction_withdraws(akashi, travel):
    p = akashi.pupils[5]
    with travel(D(2025, 9, 12)):
        absent(akashi, p, D(2025, 9, 11), D(2025, 9, 12))
        absent(akashi, p, D(2025, 9, 11), D(2025, 9, 12))
        assert EarlyAction.objects.filter(pupil=p).count() == 2
        absent(akashi, p, D(2025, 9, 12), mark="present")
    visit = EarlyAction.objects.get(pupil=p, rule="second_day_visit")
    assert visit.state == ActionState.WITHDRAWN
    assert Clock.objects.get(subject_id=visit.pk, kind="attendance.action").state == "stopped"


def test_30_days_needs_a_reason_class(akashi, travel):
    from agencies.errors import InvalidInput

    p = akashi.pupils[4]
    from attendance.calendar import school_calendar, school_days

    days = list(school_days(school_calendar(akashi.school), D(2025, 4, 7), D(2025, 7, 1)))[:30]
    with travel(D(2025, 9, 30)):
        absent(akashi, p, *days)
        action = EarlyAction.objects.get(pupil=p, rule="thirty_days")
        with pytest.raises(InvalidInput):
            services.action_skip(staff=akashi.teacher, action_id=action.pk, reason="様子を見る")
        with pytest.raises(InvalidInput):
            services.action_complete(staff=akashi.teacher, action_id=action.pk, checklist={})
        services.action_complete(
            staff=akashi.teacher, action_id=action.pk, checklist={"reason_class": "school_refusal"}
        )
    assert PupilYear.objects.get(pupil=p).long_term_reason == "school_refusal"


def test_overdue_escalates_owner_then_grade_leader_then_principal(akashi, travel):
    """One engine: the sweep tells the 担任 at 17:00 on the due day, the 学年主任 a school
    day later, the 管理職 the next school day — skipping the weekend, holiday and closure."""
    p = akashi.pupils[0]
    with travel(D(2025, 9, 12)):
        absent(akashi, p, D(2025, 9, 12))
    call = EarlyAction.objects.get(pupil=p)
    assert call.due_on == D(2025, 9, 12)

    def told(at):
        before = set(OutboxMessage.objects.values_list("pk", flat=True))
        sweep_due(now=at, workers=1)
        return sorted(
            e for m in OutboxMessage.objects.exclude(pk__in=before) for e in (m.recipients or [])
        )

    assert told(datetime(2025, 9, 12, 16, 59, tzinfo=TOKYO)) == []
    assert told(datetime(2025, 9, 12, 17, 1, tzinfo=TOKYO)) == ["teacher@school.example.invalid"]
    # Next school day is Wed 9/17 (weekend, 敬老の日, 振替休業日).
    assert told(datetime(2025, 9, 16, 17, 1, tzinfo=TOKYO)) == []
    assert told(datetime(2025, 9, 17, 17, 1, tzinfo=TOKYO)) == ["leader@school.example.invalid"]
    assert told(datetime(2025, 9, 18, 17, 1, tzinfo=TOKYO)) == ["principal@school.example.invalid"]
    with travel(D(2025, 9, 19)):
        services.action_complete(
            staff=akashi.teacher,
            action_id=call.pk,
            checklist={"reached": "guardian", "reason_class": "illness"},
        )
    assert told(datetime(2025, 9, 25, 17, 1, tzinfo=TOKYO)) == []
