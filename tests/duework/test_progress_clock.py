"""The monthly progress clock of an accepted hop (handoff.progress on the due-work engine),
with injected time: asks the receiver a month after acceptance (business calendar), then its
supervisors; reset by an update; stopped by completion or cancellation; once under two
concurrent sweeps."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
import time_machine
from django.db import connection
from django.db.models import F

from audit.models import AuditAction, AuditEvent
from duework.business_time import TOKYO
from duework.models import Clock, ClockState
from duework.services import sweep_due
from notifications.models import OutboxMessage
from relay import services
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db

KIND = "handoff.progress"


def jst(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def sweep_at(at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return sweep_due(kinds=(KIND,))


def accept_at(net, at: datetime):
    with time_machine.travel(at, tick=False):
        sheet = net.sheet()
        net.consent(sheet)
        hop = net.send(sheet)
        services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    return hop


def progress_clock(hop) -> Clock:
    return Clock.objects.get(kind=KIND, subject_id=hop.pk)


def mails() -> list[list[str]]:
    return [
        sorted(m.recipients)
        for m in OutboxMessage.objects.filter(
            event_type="handoff.progress_due", channel="email"
        ).order_by("created_at", "id")
    ]


def fired() -> list[dict]:
    return [
        e.detail
        for e in AuditEvent.objects.filter(action=AuditAction.CLOCK_FIRED).order_by("id")
        if e.detail.get("kind") == KIND
    ]


def test_a_month_after_acceptance_the_receiver_is_asked_then_its_supervisors(net) -> None:
    """GIVEN a hop accepted Monday 2026-10-05 10:00 WHEN no update comes THEN on 11-05 10:00
    the NPO's intake is asked; 40 business hours later (Thursday 11-12 10:00) its
    supervisors; each level once, then again about a business month later."""
    hop = accept_at(net, jst(2026, 10, 5, 10))
    clock = progress_clock(hop)
    assert clock.due_at == jst(2026, 11, 5, 10) and clock.owner_agency == net.npo

    assert sweep_at(jst(2026, 11, 5, 9, 59)) == 0
    assert sweep_at(jst(2026, 11, 5, 10)) == 1
    assert sweep_at(jst(2026, 11, 5, 10)) == 0  # never twice
    assert mails() == [[net.npo.intake_email]]
    assert sweep_at(jst(2026, 11, 12, 9, 59)) == 0
    assert sweep_at(jst(2026, 11, 12, 10)) == 1
    assert mails()[1:] == [["npo-supervisor@example.invalid"]]
    assert [(d["level"], d["told"]) for d in fired()] == [(1, [net.npo.pk]), (2, [net.npo.pk])]
    # Repeated to the supervisors after 160 business hours (a business month), not before.
    assert sweep_at(jst(2026, 12, 1, 10)) == 0
    assert sweep_at(jst(2026, 12, 14, 10)) == 1
    payloads = [m.payload for m in OutboxMessage.objects.filter(event_type="handoff.progress_due")]
    assert all(p["data"]["handoff_id"] == hop.pk for p in payloads)
    assert all("A.T" not in str(p) for p in payloads)


def test_a_due_date_on_a_holiday_moves_to_the_next_opening(net) -> None:
    """Accepted Friday 10-23: a month later is Monday 11-23, 勤労感謝の日; due Tuesday 09:00."""
    hop = accept_at(net, jst(2026, 10, 23, 14))
    assert progress_clock(hop).due_at == jst(2026, 11, 24, 9)


def test_an_update_resets_the_clock_to_a_month_from_the_update(net) -> None:
    """GIVEN the first reminder fired WHEN the NPO posts an update on 11-10 11:00 THEN the
    clock starts again at level 0, due 12-10 11:00; nothing fires before."""
    hop = accept_at(net, jst(2026, 10, 5, 10))
    assert sweep_at(jst(2026, 11, 5, 10)) == 1
    with time_machine.travel(jst(2026, 11, 10, 11), tick=False):
        services.handoff_progress_post(staff=net.npo_intake, handoff_id=hop.pk, status="started")
    clock = progress_clock(hop)
    assert (clock.state, clock.level, clock.fired_count) == (ClockState.OPEN, 0, 0)
    assert clock.due_at == jst(2026, 12, 10, 11)
    assert Clock.objects.filter(kind=KIND, subject_id=hop.pk).count() == 1
    assert sweep_at(jst(2026, 11, 12, 10)) == 0  # the supervisors' level of the old month
    assert sweep_at(jst(2026, 12, 10, 11)) == 1
    assert mails() == [[net.npo.intake_email]] * 2


def test_completion_stops_the_clock_and_cancellation_too(net) -> None:
    done = accept_at(net, jst(2026, 10, 5, 10))
    with time_machine.travel(jst(2026, 10, 20, 10), tick=False):
        services.handoff_complete(
            staff=net.npo_intake, handoff_id=done.pk, outcome="support_started"
        )
    assert progress_clock(done).state == ClockState.DONE
    cancelled = accept_at(net, jst(2026, 10, 5, 10))
    with time_machine.travel(jst(2026, 10, 20, 10), tick=False):
        services.handoff_cancel(staff=net.counselor, handoff_id=cancelled.pk, reason="other")
    assert progress_clock(cancelled).state == ClockState.STOPPED
    assert sweep_at(jst(2027, 1, 5, 10)) == 0
    assert mails() == []


def test_withdrawn_consent_stops_the_clock(net) -> None:
    with time_machine.travel(jst(2026, 10, 5, 10), tick=False):
        sheet = net.sheet()
        record = net.consent(sheet)
        hop = net.send(sheet)
        services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    with time_machine.travel(jst(2026, 10, 20, 10), tick=False):
        services.consent_withdraw(staff=net.counselor, record_id=record.pk, via="保護者")
    assert progress_clock(hop).state == ClockState.STOPPED
    assert sweep_at(jst(2026, 11, 5, 10)) == 0


def test_a_clock_left_open_on_a_hop_no_longer_accepted_stops_at_the_sweep(net) -> None:
    """The kind checks the hop still waits (a clock row out of step is stopped, not fired)."""
    hop = accept_at(net, jst(2026, 10, 5, 10))
    with time_machine.travel(jst(2026, 10, 20, 10), tick=False):
        services.handoff_complete(staff=net.npo_intake, handoff_id=hop.pk, outcome="referred_on")
    Clock.objects.filter(kind=KIND, subject_id=hop.pk).update(
        state=ClockState.OPEN, next_fire_at=F("due_at")
    )
    assert sweep_at(jst(2026, 11, 5, 10)) == 0
    assert progress_clock(hop).state == ClockState.STOPPED


@requires_postgres
@pytest.mark.usefixtures("transactional_db")
def test_two_concurrent_sweeps_ask_once(net) -> None:
    """GIVEN five accepted hops whose progress is due WHEN two sweeps run at once on their own
    connections, in batches of 2 THEN each clock fires once: one event, one message each."""
    hops = [accept_at(net, jst(2026, 10, 5, 10)) for _ in range(5)]
    at = jst(2026, 11, 5, 10)
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=10)
            counts.append(sweep_due(now=at, batch=2, workers=1, kinds=(KIND,)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and sum(counts) == len(hops), (counts, errors)
    assert len(fired()) == len(hops)
    assert sorted(d["level"] for d in fired()) == [1] * len(hops)
    assert len(mails()) == len(hops)
    assert sweep_due(now=at, kinds=(KIND,)) == 0
