"""The conferences screens from the outside: a participant reads and writes through them, a
non-participant and a former participant get 404, the coordinator's view opens for the
coordinator (the link escalations carry) and is 404 for others, the policies are shown."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import time_machine
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from conferences import services as conferences
from duework.business_time import TOKYO
from relay import services
from tests.conferences.conftest import council_basis

pytestmark = pytest.mark.django_db


def detail(meeting_id: int) -> str:
    return reverse("conferences:meeting-detail", args=[meeting_id])


def test_a_participant_reads_the_record_and_a_stranger_gets_404(case, login) -> None:
    net = case.net
    conferences.meeting_record(
        staff=net.counselor,
        meeting_id=case.meeting.pk,
        content={"goal": "週1回 通所", "grid": {"learning": {"problem": "授業に不安"}}},
    )
    page = login(net.npo_intake).get(detail(case.meeting.pk))
    assert page.status_code == 200
    body = page.content.decode()
    assert "週1回 通所" in body and "授業に不安" in body and "学習面" in body
    assert login(net.welfare_intake).get(detail(case.meeting.pk)).status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.MEETING_VIEWED).count() == 1


def test_a_former_participant_gets_404_after_withdrawal(case, login) -> None:
    services.consent_withdraw(staff=case.net.counselor, record_id=case.consent.pk, via="保護者")
    assert login(case.net.npo_intake).get(detail(case.meeting.pk)).status_code == 404


def test_the_organiser_records_a_plan_and_the_owner_its_progress(case, login) -> None:
    net = case.net
    organiser = login(net.counselor)
    saved = organiser.post(
        reverse("conferences:meeting-record", args=[case.meeting.pk]),
        {
            "goal": "生活リズム",
            "grid-family-background": "母の夜勤",
            "next_review_on": "2026-12-18",
        },
    )
    assert saved.status_code == 302
    organiser.post(
        reverse("conferences:action-add", args=[case.meeting.pk]),
        {
            "what": "居場所の見学",
            "owner_agency": net.npo.pk,
            "due_on": "2026-12-04",
            "for_whom": "person",
            "short_term_goal": "見学に1回行く",
        },
    )
    (action,) = case.meeting.actions.all()
    login(net.npo_intake).post(
        reverse("conferences:action-progress", args=[action.pk]), {"text": "見学できた"}
    )
    body = organiser.get(detail(case.meeting.pk)).content.decode()
    assert "居場所の見学" in body and "見学できた" in body and "母の夜勤" in body
    refused = login(net.welfare_intake).post(
        reverse("conferences:action-progress", args=[action.pk]), {"text": "x"}
    )
    assert refused.status_code == 404


def test_bad_input_on_the_record_says_so_and_changes_nothing(case, login) -> None:
    organiser = login(case.net.counselor)
    organiser.post(
        reverse("conferences:meeting-record", args=[case.meeting.pk]),
        {"goal": "x", "next_review_on": "not-a-date"},
    )
    case.meeting.refresh_from_db()
    assert case.meeting.version == 0


def test_the_coordinator_view_opens_for_the_coordinator_only(case, council, login) -> None:
    """The ward desk coordinates the 要対協: its view lists the overdue action with its age
    and agencies, and no content; the NPO (not a coordinator) gets 404."""
    net = case.net
    conferences.plan_action_add(
        staff=net.counselor,
        meeting_id=case.meeting.pk,
        what="秘密の支援内容",
        owner_agency=net.npo,
        due_on=date(2026, 11, 25),
        for_whom="person",
    )
    conferences.meeting_record(staff=net.counselor, meeting_id=case.meeting.pk, content={})
    with time_machine.travel(datetime(2026, 12, 3, 10, tzinfo=TOKYO), tick=False):
        page = login(net.counselor).get("/coordinator/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-kind="plan.action"' in body and net.npo.name in body
    assert "秘密の支援内容" not in body
    assert login(net.npo_intake).get("/coordinator/").status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.COORDINATOR_VIEWED).count() == 1


def test_the_configured_ward_coordinator_opens_the_view(case, settings, login) -> None:
    settings.TSUNAGU = {**settings.TSUNAGU, "ESCALATION": {"coordinator_agency": "welfare"}}
    assert login(case.net.welfare_intake).get("/coordinator/").status_code == 200


def test_the_settings_screen_shows_every_clock_policy(net, login) -> None:
    body = login(net.supervisor).get(reverse("conferences:policies")).content.decode()
    for kind in (
        "handoff.ack",
        "handoff.decision",
        "handoff.approval",
        "handoff.outcome",
        "consent.expiry",
        "plan.action",
        "meeting.review",
    ):
        assert f'data-clock-kind="{kind}"' in body
    assert "期限の 14 日前" in body and "期限の 3 日前" in body
    assert login(net.counselor).get(reverse("conferences:policies")).status_code == 403


def test_the_lawful_basis_form_refuses_a_non_member_of_the_named_council(
    same_ward, council, login
) -> None:
    """Through the web form: a 要対協 basis naming the council and the welfare office (not a
    member) is refused with the reason on the page, and nothing is recorded."""
    net = same_ward
    sheet = net.sheet()
    page = login(net.counselor).post(
        reverse("relay:consent-new", args=[sheet.pk]),
        {
            "basis": "yotaikyo",
            "reason": "要対協の個別ケース検討",
            "council": council.pk,
            "recipients": [net.welfare.pk],
            "sections": ["basic"],
            "purposes": ["case_conference"],
            "valid_until": "2027-03-31",
        },
    )
    assert page.status_code in (200, 400)
    assert "構成機関ではない" in page.content.decode()
    assert not sheet.consents.exists()


def test_the_coordinating_agency_sees_the_plans_state_across_agencies(
    same_ward, council, login
) -> None:
    """GIVEN a meeting under the 要対協 organised by the ward (which coordinates) with actions
    for the NPO and child guidance WHEN the ward opens the coordinator view THEN each action's
    owner, due date and state are listed, not what the action is."""
    net = same_ward
    sheet = net.sheet()
    basis = council_basis(net, sheet, council)
    meeting = conferences.meeting_create(
        staff=net.counselor,
        basis_id=basis.pk,
        held_on=date(2026, 11, 20),
        participants={net.npo: "", net.guidance: ""},
    )
    for owner in (net.npo, net.guidance):
        conferences.plan_action_add(
            staff=net.counselor,
            meeting_id=meeting.pk,
            what="家庭訪問の内容",
            owner_agency=owner,
            due_on=date(2026, 12, 25),
            for_whom="family",
        )
    body = login(net.supervisor).get("/coordinator/").content.decode()
    assert f'data-plan-meeting="{meeting.pk}"' in body
    assert body.count("data-plan-action=") == 2
    assert net.npo.name in body and net.guidance.name in body
    assert "家庭訪問の内容" not in body
