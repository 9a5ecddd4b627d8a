"""The record of a case meeting (versioned snapshots), each agency's own report, the plan's
actions with append-only progress, the review that carries the plan forward, and the
plan's clocks (injected time, over a weekend)."""

from __future__ import annotations

import threading
from datetime import date, datetime

import pytest
import time_machine
from django.db import connection

from agencies.errors import InvalidInput, NotAllowed, NotFound
from audit.models import AuditAction, AuditEvent
from conferences import services as conferences
from conferences.models import ActionProgress, ActionState
from duework.business_time import TOKYO
from duework.models import Clock, ClockState
from duework.services import sweep_due
from notifications.models import OutboxMessage
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db

GRID = {
    "learning": {"problem": "授業についていけない", "support_resources": "学習支援員"},
    "family": {"background": "母の就労時間が長い", "self_resources": "祖母が近所に住む"},
}


def record(case, **extra):
    content = {
        "person_wishes": "少人数の場所なら行けそう",
        "guardian_wishes": "生活リズムを整えたい",
        "goal": "週1回 教育支援センターに通う",
        "agreements": "次回は本人も参加",
        "grid": GRID,
        **extra,
    }
    return conferences.meeting_record(
        staff=case.net.counselor,
        meeting_id=case.meeting.pk,
        content=content,
        next_review_on=date(2026, 12, 18),
    )


def add_action(case, owner, **kw):
    values = {"what": "家庭訪問", "due_on": date(2026, 11, 27), "for_whom": "person", **kw}
    return conferences.plan_action_add(
        staff=case.net.counselor, meeting_id=case.meeting.pk, owner_agency=owner, **values
    )


def test_each_save_is_a_version_and_old_versions_stay_readable(case) -> None:
    first = record(case)
    second = record(case, goal="週2回 通う")
    assert (first.version, second.version) == (1, 2)
    latest = conferences.meeting_view(staff=case.net.npo_intake, meeting_id=case.meeting.pk)
    assert latest.version == 2 and latest.record["goal"] == "週2回 通う"
    assert latest.record["grid"]["learning"]["problem"] == "授業についていけない"
    assert latest.record["grid"]["career"] == {
        "problem": "",
        "background": "",
        "self_resources": "",
        "support_resources": "",
    }
    old = conferences.meeting_view(staff=case.net.npo_intake, meeting_id=case.meeting.pk, version=1)
    assert old.record["goal"] == "週1回 教育支援センターに通う" and old.versions == [1, 2]
    with pytest.raises(NotFound):
        conferences.meeting_view(staff=case.net.npo_intake, meeting_id=case.meeting.pk, version=9)


def test_bad_record_input_is_refused_naming_the_field_and_nothing_changes(case) -> None:
    with pytest.raises(InvalidInput) as refused:
        record(case, grid={"learning": {"nonsense": "x"}})
    assert refused.value.field == "grid.learning"
    with pytest.raises(InvalidInput) as unknown:
        record(case, full_name="山田花子")
    assert unknown.value.field == "full_name"
    case.meeting.refresh_from_db()
    assert case.meeting.version == 0


def test_only_the_organiser_saves_the_record(case) -> None:
    with pytest.raises(NotAllowed):
        conferences.meeting_record(
            staff=case.net.npo_intake, meeting_id=case.meeting.pk, content={}
        )


def test_each_agency_writes_its_own_report_and_the_snapshot_keeps_it(case) -> None:
    net = case.net
    conferences.agency_report_write(
        staff=net.npo_intake, meeting_id=case.meeting.pk, text="週1回来所"
    )
    conferences.agency_report_write(
        staff=net.guidance_intake, meeting_id=case.meeting.pk, text="家庭訪問で面談"
    )
    conferences.agency_report_write(
        staff=net.npo_intake, meeting_id=case.meeting.pk, text="週2回来所"
    )
    version = record(case)
    assert version.content["reports"] == [
        {"agency_id": net.npo.pk, "text": "週2回来所"},
        {"agency_id": net.guidance.pk, "text": "家庭訪問で面談"},
    ]


def test_owners_append_progress_others_may_not(case) -> None:
    net = case.net
    npo_action = add_action(case, net.npo, what="居場所の案内")
    add_action(case, net.guidance, what="保護者面談")
    conferences.action_progress_add(staff=net.npo_intake, action_id=npo_action.pk, text="見学1回")
    conferences.action_progress_add(staff=net.npo_intake, action_id=npo_action.pk, text="通所開始")
    with pytest.raises(NotAllowed):
        conferences.action_progress_add(
            staff=net.guidance_intake, action_id=npo_action.pk, text="x"
        )
    with pytest.raises(NotFound):
        conferences.action_progress_add(staff=net.welfare_intake, action_id=npo_action.pk, text="x")
    assert list(
        ActionProgress.objects.filter(action=npo_action).values_list("text", flat=True)
    ) == ["見学1回", "通所開始"]
    plan = conferences.meeting_view(staff=net.counselor, meeting_id=case.meeting.pk).actions
    assert [(a.owner_agency_id, len(a.progress.all())) for a in plan] == [
        (net.npo.pk, 2),
        (net.guidance.pk, 0),
    ]
    assert AuditEvent.objects.filter(action=AuditAction.PLAN_ACTION_PROGRESS).count() == 2


def test_an_action_owner_must_be_a_participant(case) -> None:
    with pytest.raises(InvalidInput) as refused:
        add_action(case, case.net.welfare)
    assert refused.value.field == "owner_agency"


def test_a_review_carries_the_plan_forward(case) -> None:
    """GIVEN three open actions WHEN the review marks one done, continues one and drops one
    THEN the review's plan holds the continued one (linked to its origin), the old actions
    have their states, and their clocks are stopped."""
    net = case.net
    done, kept, dropped = (add_action(case, net.npo, what=w) for w in ("A", "B", "C"))
    record(case)
    review = conferences.review_meeting_create(
        staff=net.counselor,
        meeting_id=case.meeting.pk,
        held_on=date(2026, 12, 18),
        decisions={done.pk: "done", kept.pk: "continue", dropped.pk: "dropped"},
        new_due_on={kept.pk: date(2027, 1, 29)},
    )
    assert review.follows_id == case.meeting.pk
    (carried,) = review.actions.all()
    assert carried.carried_from_id == kept.pk and carried.due_on == date(2027, 1, 29)
    states = {a.pk: a.state for a in case.meeting.actions.all()}
    assert states == {
        done.pk: ActionState.DONE,
        kept.pk: ActionState.CARRIED,
        dropped.pk: ActionState.DROPPED,
    }
    assert Clock.objects.get(kind="plan.action", subject_id=kept.pk).state == ClockState.DONE
    assert Clock.objects.get(kind="plan.action", subject_id=carried.pk).state == ClockState.OPEN
    assert (
        Clock.objects.get(kind="meeting.review", subject_id=case.meeting.pk).state
        == ClockState.DONE
    )


def jst(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TOKYO)


def test_a_plan_action_reminds_its_owner_then_escalates_to_the_coordinator(case) -> None:
    """GIVEN an NPO action due Friday 11-27 (17:00) WHEN nothing is recorded THEN the NPO is
    reminded 3 days before, told at the deadline, and 16 business hours later (Tuesday 12-01
    17:00, over the weekend) its supervisors and the organiser, which coordinates, are told;
    marking it done stops the clock."""
    net = case.net
    action = add_action(case, net.npo)

    def sweep(at: datetime) -> int:
        with time_machine.travel(at, tick=False):
            return sweep_due()

    assert sweep(jst(11, 24, 16)) == 0
    assert sweep(jst(11, 24, 17)) == 1
    assert sweep(jst(11, 27, 17)) == 1
    assert sweep(jst(12, 1, 16)) == 0
    assert sweep(jst(12, 1, 17)) == 1
    mails = [
        (m.agency_id, sorted(m.recipients))
        for m in OutboxMessage.objects.filter(
            event_type="plan.action_due", channel="email"
        ).order_by("created_at", "agency_id")
    ]
    assert mails[:2] == [(net.npo.pk, [net.npo.intake_email])] * 2
    assert sorted(mails[2:]) == sorted(
        [
            (net.ward.pk, sorted([net.ward.intake_email, "supervisor@example.invalid"])),
            (net.npo.pk, sorted([net.npo.intake_email, "npo-supervisor@example.invalid"])),
        ]
    )
    link = OutboxMessage.objects.filter(event_type="plan.action_due", agency=net.ward).first()
    assert link.payload["data"]["url"].endswith("/coordinator/")
    conferences.action_set_state(staff=net.npo_intake, action_id=action.pk, state="done")
    assert sweep(jst(12, 20, 17)) == 0


def test_a_review_date_reminds_the_organiser(case) -> None:
    record(case)  # next review 2026-12-18 (Friday) 09:00
    clock = Clock.objects.get(kind="meeting.review", subject_id=case.meeting.pk)
    assert clock.owner_agency_id == case.net.ward.pk
    with time_machine.travel(jst(12, 11, 9), tick=False):
        assert sweep_due() == 1  # 7 days before
    with time_machine.travel(jst(12, 18, 9), tick=False):
        assert sweep_due() == 1
    assert OutboxMessage.objects.filter(event_type="meeting.review_due").count() == 2


@requires_postgres
@pytest.mark.usefixtures("transactional_db")
def test_two_concurrent_sweeps_fire_plan_and_consent_clocks_once(case) -> None:
    """GIVEN six plan actions, a review date and a consent record, all due WHEN two sweeps
    run at once (own connections, batches of 2) THEN every clock fires exactly once."""
    net = case.net
    for i in range(6):
        add_action(case, net.npo if i % 2 else net.guidance, what=f"支援{i}")
    record(case)
    net.consent(case.sheet, to=[net.welfare], days=10)  # its 3-day reminder is due too
    at = datetime(2027, 1, 8, 10, tzinfo=TOKYO)  # past every due date above
    due = Clock.objects.filter(state="open", next_fire_at__lte=at).count()
    assert due == 6 + 1 + 1  # the actions, the review, the consent
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=10)
            counts.append(sweep_due(now=at, batch=2, workers=1))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and sum(counts) == due, (counts, errors)
    fired = Clock.objects.filter(fired_count__gt=0)
    assert fired.count() == due
    assert set(fired.values_list("fired_count", flat=True)) == {1}
    assert AuditEvent.objects.filter(action=AuditAction.CLOCK_FIRED).count() == due
