"""Issue 15 in a real browser: a homeroom teacher enters a week of attendance for a class by
keyboard only; the 管理職's dashboard shows the 3-day action; the teacher drafts the 相談シート
from it, and the sheet carries the attendance from the records."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from agencies.actors import Staff
from agencies.models import Agency
from attendance import services
from attendance.access import today
from attendance.calendar import school_calendar, school_year_of
from attendance.models import EarlyAction
from relay.models import ReferralSheet

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PUPILS = 5


def _last_school_days(school: Agency, count: int) -> list[date]:
    """The last `count` school days up to today, oldest first (within this school year)."""
    day = today()
    calendar = school_calendar(school, within=(day - timedelta(days=40), day))
    days: list[date] = []
    while len(days) < count and school_year_of(day) == school_year_of(today()):
        if calendar.is_business_day(day):
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def _new_class(school: Agency):
    """A 6年1組 with five pupils, nakasaki-teacher its homeroom teacher (the demo's own classes
    already have two months of attendance)."""
    principal = Staff.for_user(get_user_model().objects.get(username="nakasaki-principal"))
    teacher = get_user_model().objects.get(username="nakasaki-teacher")
    room = services.classroom_create(
        staff=principal, school_year=school_year_of(today()), grade=6, name="1"
    )
    services.post_assign(staff=principal, user=teacher, role="homeroom", classroom=room)
    pupils = [
        services.pupil_register(
            staff=principal,
            school_number=f"e2e-{n}",
            initials=f"{'KMNRS'[n - 1]}.E",
            classroom=room,
            number=n,
        )
        for n in range(1, PUPILS + 1)
    ]
    return room, pupils


def _enter_day_by_keyboard(page: Page, marks: list[str]) -> None:
    """From the first pupil's 区分: a mark's number key, then Tab past the reason and the
    next pupil's initials; after the last pupil, Tab to 保存 and Enter."""
    page.locator("select[name^=mark-]").first.focus()
    for n, key in enumerate(marks):
        page.keyboard.press(key)
        page.keyboard.press("Tab")  # the reason
        if n < len(marks) - 1:
            page.keyboard.press("Tab")  # the next pupil's initials
            page.keyboard.press("Tab")  # the next pupil's 区分
    page.keyboard.press("Tab")  # 保存
    page.keyboard.press("Enter")
    expect(page.locator("ul.messages")).to_contain_text("保存しました")


def test_a_week_by_keyboard_to_the_dashboard_and_the_consultation_sheet(open_as, live_server):
    school = Agency.objects.get(slug="akashi-nakasaki-es")
    room, pupils = _new_class(school)
    days = _last_school_days(school, 5)
    assert len(days) == 5, "needs five school days of this school year before today"

    teacher = open_as("nakasaki-teacher")
    teacher.get_by_role("navigation", name="メインメニュー").get_by_role(
        "link", name="出欠"
    ).click()
    expect(teacher.get_by_role("link", name="6年1組")).to_be_visible()
    for day in days:
        teacher.goto(f"{live_server.url}/attendance/classes/{room.pk}/entry/?day={day}")
        # Pupil 1 (K.E) is absent all week; the others are present.
        _enter_day_by_keyboard(teacher, ["2"] + ["1"] * (PUPILS - 1))
        selected = teacher.locator(f"select[name=mark-{pupils[0].pk}]")
        expect(selected).to_have_value("absent")
        expect(teacher.locator(f"select[name=mark-{pupils[1].pk}]")).to_have_value("present")

    share = EarlyAction.objects.get(pupil=pupils[0], rule="consecutive_3")
    assert share.triggered_on == days[2] and share.owner_role == "homeroom"
    assert not EarlyAction.objects.filter(pupil__in=pupils[1:]).exists()

    principal = open_as("nakasaki-principal")
    principal.goto(f"{live_server.url}/attendance/dashboard/")
    row = principal.locator(f"#h-open ~ div tr[data-action='{share.pk}']")
    expect(row).to_contain_text("K.E")
    expect(row).to_contain_text("学年で共有")

    teacher.goto(f"{live_server.url}/attendance/actions/{share.pk}/")
    teacher.get_by_role("link", name="実態把握シートと相談シートを作成").click()
    teacher.select_option("select[name=will_child]", "weak")
    teacher.fill("#f-consultation", "今週に入って欠席が続いている。本人は登校したい気持ちがある。")
    teacher.get_by_role("button", name="相談シートを下書き").click()
    teacher.wait_for_url(re.compile(r"/sheets/\d+/"))
    sheet = ReferralSheet.objects.get(pk=EarlyAction.objects.get(pk=share.pk).sheet_id)
    assert sheet.subject_initials == "K.E" and sheet.first_sent_at is None
    assert sheet.absence_days_since_april == 5
    block = teacher.locator("dl.fields")
    expect(block.first).to_be_visible()
    body = teacher.content()
    assert re.search(r"4月からの欠席日数</dt>\s*<dd>(<span[^>]*>)?5日", body), "attendance filled"
