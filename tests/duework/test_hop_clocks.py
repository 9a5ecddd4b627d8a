"""Every clock kind on the one due-work engine, with injected time across weekends and
holidays: who is told at each level, what stops a clock, exactly once under two sweeps."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection

from agencies.models import Role
from audit.models import AuditAction, AuditEvent
from audit.services import audit_verify
from duework.business_time import TOKYO
from duework.models import Clock, ClockState
from duework.services import sweep_due
from notifications.models import InAppNotification, OutboxMessage
from relay import services
from tests.conftest import requires_postgres
from tests.fixtures import _staff

pytestmark = pytest.mark.django_db

# Friday 2026-11-20 15:00 JST; Monday 11-23 is 勤労感謝の日 (Labour Thanksgiving Day).
SENT_AT = datetime(2026, 11, 20, 15, 0, tzinfo=TOKYO)


def jst(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TOKYO)


def sweep_at(at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return sweep_due()


def send_at(net, at: datetime):
    with time_machine.travel(at, tick=False):
        sheet = net.sheet()
        net.consent(sheet)
        return net.send(sheet)


def clock(kind: str, subject_id: int) -> Clock:
    return Clock.objects.get(kind=kind, subject_id=subject_id)


def mails(event: str) -> list[list[str]]:
    return [
        sorted(m.recipients)
        for m in OutboxMessage.objects.filter(event_type=event, channel="email").order_by(
            "created_at", "agency_id"
        )
    ]


def fired(kind: str) -> list[dict]:
    return [
        e.detail
        for e in AuditEvent.objects.filter(action=AuditAction.CLOCK_FIRED).order_by("id")
        if e.detail.get("kind") == kind
    ]


def test_an_acknowledged_hop_not_decided_reminds_the_receiver_then_escalates(net) -> None:
    """GIVEN a hop acknowledged Tuesday 11-24 10:00 (after the holiday) WHEN nobody accepts or
    declines it THEN 24 business hours later (Friday 11-27 10:00) the receiver's intake is
    told, 8 business hours after that (Monday 11-30 10:00, over the weekend) its supervisors
    and the sender; accepting stops the clock."""
    hop = send_at(net, SENT_AT)
    with time_machine.travel(jst(11, 24, 10), tick=False):
        services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    assert clock("handoff.ack", hop.pk).state == ClockState.DONE
    decision = clock("handoff.decision", hop.pk)
    assert decision.due_at == jst(11, 27, 10) and decision.owner_agency == net.npo

    assert sweep_at(jst(11, 27, 9, 59)) == 0
    assert sweep_at(jst(11, 27, 10)) == 1
    assert mails("handoff.decision_overdue") == [[net.npo.intake_email]]
    assert sweep_at(jst(11, 28, 12)) == 0  # Saturday
    assert sweep_at(jst(11, 30, 10)) == 1
    assert sorted(mails("handoff.decision_overdue")[1:]) == [
        ["counselor@example.invalid", "supervisor@example.invalid"],
        [net.npo.intake_email, "npo-supervisor@example.invalid"],
    ]
    assert [(d["level"], d["told"]) for d in fired("handoff.decision")] == [
        (1, [net.npo.pk]),
        (2, [net.npo.pk, net.ward.pk]),
    ]
    with time_machine.travel(jst(11, 30, 11), tick=False):
        services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    assert clock("handoff.decision", hop.pk).state == ClockState.DONE
    assert sweep_at(jst(12, 3, 10)) == 0  # (the outcome clock is due only on 12-07)
    assert len(fired("handoff.decision")) == 2


def test_the_approval_queue_reminds_a_supervisor_then_the_other_supervisors(net) -> None:
    """GIVEN a ward desk whose sends need a supervisor's sign-off and two supervisors WHEN a
    counselor submits Friday 15:00 and nobody approves THEN 8 business hours later (Tuesday
    11-24 15:00, after the holiday) the first supervisor is reminded, 8 more (Wednesday) the
    other supervisors; approving stops it and starts the acknowledgment clock."""
    net.ward.requires_supervisor_approval = True
    net.ward.save(update_fields=["requires_supervisor_approval"])
    second = _staff(net.ward, Role.SUPERVISOR, "supervisor2")
    hop = send_at(net, SENT_AT)
    approval = clock("handoff.approval", hop.pk)
    assert approval.due_at == jst(11, 24, 15)
    assert approval.owner_user_id == net.supervisor.user.pk

    assert sweep_at(jst(11, 24, 14, 59)) == 0
    assert sweep_at(jst(11, 24, 15)) == 1
    assert mails("handoff.approval_waiting") == [["supervisor@example.invalid"]]
    assert sweep_at(jst(11, 25, 15)) == 1
    assert mails("handoff.approval_waiting")[1:] == [[second.user.email]]

    with time_machine.travel(jst(11, 25, 16), tick=False):
        services.handoff_approve(staff=second, handoff_id=hop.pk)
    assert clock("handoff.approval", hop.pk).state == ClockState.DONE
    assert clock("handoff.ack", hop.pk).state == ClockState.OPEN
    assert sweep_at(jst(11, 26, 15)) == 0  # the approval clock is stopped; ack not yet due


def test_a_returned_hop_stops_its_approval_clock(net) -> None:
    net.ward.requires_supervisor_approval = True
    net.ward.save(update_fields=["requires_supervisor_approval"])
    hop = send_at(net, SENT_AT)
    with time_machine.travel(jst(11, 24, 9), tick=False):
        services.handoff_return_to_draft(staff=net.supervisor, handoff_id=hop.pk, note="要確認")
    assert clock("handoff.approval", hop.pk).state == ClockState.STOPPED
    assert sweep_at(jst(12, 1, 15)) == 0


def test_a_missing_outcome_reminds_the_receiver_then_the_sender(net) -> None:
    """GIVEN a hop accepted Tuesday 11-24 10:00 WHEN no outcome is recorded THEN the receiver
    (who must record it) is reminded after 40 business hours, the sender after 80; recording
    the outcome stops the clock."""
    hop = send_at(net, SENT_AT)
    with time_machine.travel(jst(11, 24, 10), tick=False):
        services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    assert sweep_at(jst(12, 1, 9, 59)) == 0
    assert sweep_at(jst(12, 1, 10)) == 1
    assert mails("handoff.outcome_due") == [[net.npo.intake_email]]
    assert mails("handoff.outcome_reminder") == []
    assert sweep_at(jst(12, 8, 10)) == 1
    assert mails("handoff.outcome_reminder") == [
        ["counselor@example.invalid", net.ward.intake_email]
    ]
    assert sweep_at(jst(12, 20, 10)) == 0  # no repeat


def test_recording_the_outcome_stops_the_outcome_clock(net) -> None:
    hop = send_at(net, SENT_AT)
    with time_machine.travel(jst(11, 24, 10), tick=False):
        services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
        services.handoff_complete(
            staff=net.npo_intake, handoff_id=hop.pk, outcome="support_started"
        )
    assert clock("handoff.outcome", hop.pk).state == ClockState.DONE
    assert sweep_at(jst(12, 8, 10)) == 0
    assert OutboxMessage.objects.filter(event_type__startswith="handoff.outcome").count() == 0


def test_a_consent_nearing_expiry_reminds_the_recorder_14_and_3_days_before(net) -> None:
    """GIVEN consent recorded by the counselor, valid for 30 days WHEN 14 and then 3 days are
    left THEN the counselor (the recorder) is told each time, once; no personal data."""
    with time_machine.travel(jst(11, 2, 10), tick=False):
        sheet = net.sheet()
        record = net.consent(sheet, days=30)
    expiry = clock("consent.expiry", record.pk)
    assert expiry.due_at == record.valid_until and expiry.owner_user_id == net.counselor.user.pk
    assert sweep_at(record.valid_until - timedelta(days=14, minutes=1)) == 0
    assert sweep_at(record.valid_until - timedelta(days=14)) == 1
    assert sweep_at(record.valid_until - timedelta(days=13)) == 0
    assert sweep_at(record.valid_until - timedelta(days=3)) == 1
    assert sweep_at(record.valid_until + timedelta(days=3)) == 0
    assert mails("consent.expiring") == [["counselor@example.invalid"]] * 2
    (message, _) = OutboxMessage.objects.filter(event_type="consent.expiring")
    assert "A.T" not in str(message.payload)
    assert [d["level"] for d in fired("consent.expiry")] == [1, 2]
    assert InAppNotification.objects.filter(event_type="consent.expiring").count() == 2


def test_withdrawing_consent_stops_its_expiry_clock_and_the_hops_clocks(net) -> None:
    with time_machine.travel(SENT_AT, tick=False):
        sheet = net.sheet()
        record = net.consent(sheet, days=30)
        hop = net.send(sheet)
        services.consent_withdraw(staff=net.counselor, record_id=record.pk, via="本人")
    assert clock("consent.expiry", record.pk).state == ClockState.STOPPED
    assert clock("handoff.ack", hop.pk).state == ClockState.STOPPED
    assert sweep_at(record.valid_until) == 0


def test_a_clock_is_one_row_per_kind_and_subject(net) -> None:
    """Restarting (a hop returned and resubmitted) reuses the row, never a second clock."""
    net.ward.requires_supervisor_approval = True
    net.ward.save(update_fields=["requires_supervisor_approval"])
    hop = send_at(net, SENT_AT)
    with time_machine.travel(jst(11, 24, 9), tick=False):
        services.handoff_return_to_draft(staff=net.supervisor, handoff_id=hop.pk, note="要確認")
        services.handoff_submit(staff=net.counselor, handoff_id=hop.pk)
    assert Clock.objects.filter(kind="handoff.approval", subject_id=hop.pk).count() == 1
    assert clock("handoff.approval", hop.pk).state == ClockState.OPEN


@requires_postgres
@pytest.mark.usefixtures("transactional_db")
def test_two_concurrent_sweeps_fire_every_kind_exactly_once(net) -> None:
    """GIVEN due clocks of four kinds (acknowledgment, decision, outcome, consent expiry)
    WHEN two sweeps run at once on their own connections, in batches of 2 THEN each clock
    fires once: one audit event and one set of notifications each; the chain verifies."""
    for _ in range(4):  # unacknowledged
        send_at(net, SENT_AT)
    undecided = [send_at(net, SENT_AT) for _ in range(3)]
    accepted = [send_at(net, SENT_AT) for _ in range(3)]
    with time_machine.travel(jst(11, 24, 10), tick=False):
        for hop in undecided:
            services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
        for hop in accepted:
            services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    at = jst(12, 3, 10)  # ack level 1, decision level 1, outcome level 1 all due
    expected = Clock.objects.filter(state="open", next_fire_at__lte=at).count()
    assert expected == 4 + 3 + 3
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
    assert not errors and sum(counts) == expected, (counts, errors)
    assert AuditEvent.objects.filter(action=AuditAction.HANDOFF_ESCALATED).count() == 4
    assert len(fired("handoff.decision")) == 3 and len(fired("handoff.outcome")) == 3
    assert set(Clock.objects.filter(fired_count__gt=0).values_list("fired_count", flat=True)) == {1}
    assert sweep_due(now=at) == 0
    verified, broken = audit_verify()
    assert broken is None and verified == AuditEvent.objects.count()


def test_a_sweep_in_batches_moves_every_clock_and_its_hop_on_once(net) -> None:
    """GIVEN five hops sent on Friday 11-20 and never acknowledged WHEN sweeps run in batches
    of two (the clocks moved on in one statement per batch) at each level's time across the
    weekend and the 11-23 holiday THEN every clock climbs one level per sweep, its next time
    is its own policy's, and the hop's escalation columns follow it."""
    hops = [send_at(net, SENT_AT) for _ in range(5)]
    first = clock("handoff.ack", hops[0].pk).next_fire_at
    assert first is not None

    with time_machine.travel(first, tick=False):
        assert sweep_due(now=first, batch=2, workers=1) == 5
    second = {clock("handoff.ack", h.pk).next_fire_at for h in hops}
    assert len(second) == 1
    (second_at,) = second
    assert second_at is not None and second_at > first
    for hop in hops:
        hop.refresh_from_db()
        row = clock("handoff.ack", hop.pk)
        assert (row.level, row.fired_count) == (1, 1)
        assert (hop.escalation_level, hop.next_escalation_at) == (1, row.next_fire_at)
    assert sweep_due(now=second_at - timedelta(seconds=1), batch=2, workers=1) == 0

    with time_machine.travel(second_at, tick=False):
        assert sweep_due(now=second_at, batch=2, workers=1) == 5
    levels = {(c.level, c.fired_count) for c in Clock.objects.filter(kind="handoff.ack")}
    assert levels == {(2, 2)}
    assert AuditEvent.objects.filter(action=AuditAction.HANDOFF_ESCALATED).count() == 10
