"""Issue 16 in a real browser: a school's 管理職 and the education support section hold a case
meeting about a sheet, record the five-area grid and a plan with actions for two agencies;
the child guidance centre's intake records progress on its action; the review shows it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from agencies import twofactor
from agencies.actors import Staff
from agencies.models import Agency, AgencyKind, Role
from audit.models import AuditAction, AuditEvent
from conferences.models import ActionProgress, CaseMeeting, PlanAction
from consent.vocabulary import Purpose
from relay import services
from tests.e2e.conftest import DEMO_PASSWORD
from tests.factories import AgencyFactory, MembershipFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EDUCATION = "akashi-student-support-division"
KODOMO = "akashi-kodomo-center"


def _school_with_a_sheet() -> tuple[Agency, int, int]:
    """A junior high school in Akashi (not in the demo directory), its 管理職, a sheet and
    the guardian's consent to the education support section and the child guidance centre
    for a case conference."""
    school = AgencyFactory(
        slug="akashi-test-jhs", name="明石市立テスト中学校", kind=AgencyKind.SCHOOL,
        municipality="明石市",
    )  # fmt: skip
    membership = MembershipFactory(
        agency=school, role=Role.SUPERVISOR, user__username="school-principal"
    )
    user = get_user_model().objects.get(pk=membership.user_id)
    user.set_password(DEMO_PASSWORD)
    user.save()
    twofactor.totp_enrol_directly(user=user)  # a supervisor signs in with a second factor
    staff = Staff.for_user(user)
    sheet = services.sheet_create(
        staff=staff,
        data={
            "subject_initials": "R.M", "grade": "j2", "consulted_on": timezone.localdate(),
            "consulter": "guardian", "consultation": "2学期から欠席が続く", "categories": [],
        },
    )  # fmt: skip
    consent = services.consent_record(
        staff=staff,
        sheet_id=sheet.pk,
        grantors=["guardian"],
        method="written",
        recipients=list(Agency.objects.filter(slug__in=[EDUCATION, KODOMO])),
        sections=["basic", "consultation"],
        purposes=[Purpose.CASE_CONFERENCE, Purpose.SUPPORT],
        valid_until=timezone.now() + timedelta(days=180),
    )
    return school, sheet.pk, consent.pk


def test_a_case_meeting_its_plan_progress_and_review(open_as, live_server, shoot) -> None:
    _school, sheet_id, consent_id = _school_with_a_sheet()
    education = Agency.objects.get(slug=EDUCATION)
    kodomo = Agency.objects.get(slug=KODOMO)
    today = timezone.localdate()

    # The school's 管理職 convenes the meeting from the sheet.
    principal = open_as("school-principal")
    principal.goto(f"{live_server.url}/sheets/{sheet_id}/")
    principal.get_by_test_id("meeting-new-link").click()
    principal.select_option("#basis", str(consent_id))
    principal.fill("#held_on", today.isoformat())
    principal.fill("#place", "校長室")
    for agency in (education, kodomo):
        principal.check(f"input[name=participants][value='{agency.pk}']")
    principal.fill(f"#attendees-{education.pk}", "指導主事")
    principal.get_by_test_id("meeting-create").click()
    meeting = CaseMeeting.objects.get(sheet_id=sheet_id)
    principal.wait_for_url(f"{live_server.url}/meetings/{meeting.pk}/")

    # The record: wishes, goal, the grid, the next review date.
    principal.fill("#person_wishes", "少人数の場所なら行ってみたい")
    principal.fill("#goal", "週1回 適応指導教室に通う")
    principal.get_by_test_id("grid-learning-problem").fill("数学の授業に不安")
    principal.get_by_test_id("grid-family-background").fill("母の夜勤で朝が一人")
    principal.get_by_test_id("grid-social-support_resources").fill("スクールカウンセラー")
    principal.fill("#next_review_on", (today + timedelta(days=28)).isoformat())
    principal.get_by_test_id("record-save").click()
    expect(principal.get_by_test_id("grid-learning-problem")).to_have_value("数学の授業に不安")

    # The plan: one action for each of the two other agencies.
    for agency, what in ((education, "適応指導教室の見学を調整"), (kodomo, "保護者面談")):
        principal.locator("details.action summary").click()
        principal.fill("#what", what)
        principal.select_option("#owner_agency", str(agency.pk))
        principal.fill("#due_on", (today + timedelta(days=14)).isoformat())
        principal.fill("#short_term_goal", "2週間以内に1回")
        principal.get_by_test_id("action-add").click()
        expect(principal.locator("tr[data-action]", has_text=what)).to_be_visible()
    shoot(principal, "case-meeting-record", center="#h-plan")

    # The child guidance centre's intake records progress on its own action.
    kodomo_action = PlanAction.objects.get(meeting=meeting, owner_agency=kodomo)
    intake = open_as("kodomo-intake")
    intake.goto(f"{live_server.url}/meetings/")
    intake.locator(f"tr[data-meeting='{meeting.pk}'] a").click()
    expect(intake.get_by_test_id("grid-learning-problem")).to_have_value("数学の授業に不安")
    expect(intake.get_by_test_id(f"progress-{kodomo_action.pk}")).to_be_visible()
    education_action = PlanAction.objects.get(meeting=meeting, owner_agency=education)
    expect(intake.get_by_test_id(f"progress-{education_action.pk}")).to_have_count(0)
    intake.get_by_test_id(f"progress-{kodomo_action.pk}").fill("母と面談、次回は本人も")
    intake.locator(f"tr[data-action='{kodomo_action.pk}'] button:not([name])").click()
    expect(intake.locator(f"tr[data-action='{kodomo_action.pk}']")).to_contain_text(
        "母と面談、次回は本人も"
    )
    assert ActionProgress.objects.filter(action=kodomo_action).count() == 1

    # The review shows that progress, and carries the plan forward.
    principal.goto(f"{live_server.url}/meetings/{meeting.pk}/review/")
    expect(principal.locator(f"fieldset[data-action='{kodomo_action.pk}']")).to_contain_text(
        "母と面談、次回は本人も"
    )
    shoot(principal, "case-meeting-review")
    principal.fill("#held_on", (today + timedelta(days=28)).isoformat())
    principal.check(f"input[name=decision-{kodomo_action.pk}][value=continue]")
    principal.check(f"input[name=decision-{education_action.pk}][value=done]")
    principal.locator("form button[type=submit].btn").last.click()
    review = CaseMeeting.objects.get(follows=meeting)
    principal.wait_for_url(f"{live_server.url}/meetings/{review.pk}/")
    expect(principal.locator("tr[data-action]", has_text="保護者面談")).to_be_visible()
    assert AuditEvent.objects.filter(action=AuditAction.MEETING_VIEWED).count() >= 3
