"""Escalation of unacknowledged hops in business time, with frozen time (never slept on);
outcome reminders and the daily overdue digest."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
import time_machine
from django.db import connection

from audit.models import AuditAction, AuditEvent
from audit.services import audit_verify
from notifications.models import InAppNotification, OutboxMessage
from relay import services
from relay.business_time import TOKYO
from relay.choices import Urgency
from relay.models import Handoff
from relay.services.escalations import escalate_due, remind_missing_outcomes, send_overdue_digests
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db

# Friday 2026-11-20 15:00 JST; Monday 11-23 is 勤労感謝の日 (Labour Thanksgiving Day).
SENT_AT = datetime(2026, 11, 20, 15, 0, tzinfo=TOKYO)


def jst(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TOKYO)


@pytest.fixture
def coordinator(net, settings):
    """The welfare office is the ward-level coordinator told at level 3."""
    settings.TSUNAGU = {**settings.TSUNAGU, "ESCALATION": {"coordinator_agency": "welfare"}}
    return net.welfare


def send_at(net, at: datetime, **sheet) -> Handoff:
    with time_machine.travel(at, tick=False):
        sheet = net.sheet(**sheet)
        net.consent(sheet)
        return net.send(sheet)


def sweep_at(at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return escalate_due()


def escalations(hop: Handoff) -> list[dict]:
    return [
        e.detail
        for e in AuditEvent.objects.filter(
            action=AuditAction.HANDOFF_ESCALATED, object_id=str(hop.pk)
        ).order_by("id")
    ]


def emails(hop: Handoff, event: str = "handoff.escalated") -> list[list[str]]:
    return [
        m.recipients
        for m in OutboxMessage.objects.filter(
            handoff=hop, event_type=event, channel="email"
        ).order_by("created_at", "agency_id")
    ]


def test_levels_fire_at_business_times_across_a_weekend_and_a_holiday(net, coordinator) -> None:
    """GIVEN a hop sent Friday 15:00 with a 16 business-hour SLA, Monday a public holiday
    WHEN the sweep runs THEN the deadline is Wednesday 15:00 and level 1 (receiver intake)
    fires then, level 2 (receiver supervisors and the sender) 8 business hours later on
    Thursday 15:00, level 3 (the coordinator) 16 business hours after that, on Monday
    11-30 15:00, and the coordinator is reminded again every 16 business hours."""
    hop = send_at(net, SENT_AT)
    assert hop.ack_due_at == jst(11, 25, 15)
    assert hop.next_escalation_at == jst(11, 25, 15) and hop.escalation_level == 0
    assert hop.escalation_policy["ack_hours"] == 16

    assert sweep_at(jst(11, 23, 12)) == 0  # the holiday
    assert sweep_at(jst(11, 25, 14, 59)) == 0
    assert sweep_at(jst(11, 25, 15)) == 1
    hop.refresh_from_db()
    assert hop.escalation_level == 1 and hop.next_escalation_at == jst(11, 26, 15)
    assert emails(hop) == [[net.npo.intake_email]]

    assert sweep_at(jst(11, 26, 14, 59)) == 0
    assert sweep_at(jst(11, 26, 15)) == 1
    hop.refresh_from_db()
    assert hop.escalation_level == 2 and hop.next_escalation_at == jst(11, 30, 15)
    assert sorted(emails(hop)[1:]) == [
        ["counselor@example.invalid", "supervisor@example.invalid"],
        [net.npo.intake_email, "npo-supervisor@example.invalid"],
    ]

    assert sweep_at(jst(11, 28, 12)) == 0  # Saturday
    assert sweep_at(jst(11, 30, 15)) == 1
    hop.refresh_from_db()
    assert hop.escalation_level == 3 and hop.next_escalation_at == jst(12, 2, 15)
    assert emails(hop)[3:] == [[coordinator.intake_email]]

    assert sweep_at(jst(12, 2, 15)) == 1
    hop.refresh_from_db()
    assert hop.escalation_level == 3 and hop.next_escalation_at == jst(12, 4, 15)
    assert [(d["level"], d["repeat"]) for d in escalations(hop)] == [
        (1, False),
        (2, False),
        (3, False),
        (3, True),
    ]
    assert [d["told"] for d in escalations(hop)] == [
        [net.npo.pk],
        [net.npo.pk, net.ward.pk],
        [coordinator.pk],
        [coordinator.pk],
    ]
    # The sweep appends its audit events in bulk: the chain still verifies end to end.
    verified, broken = audit_verify()
    assert broken is None and verified == AuditEvent.objects.count()


def test_an_escalation_is_one_audit_event_like_every_hop_event_with_what_it_queued(
    net, endpoint
) -> None:
    """The issue's "writes the audit event and the outbox rows": one HANDOFF_ESCALATED event,
    shaped like every other hop event, naming the outbox rows and channels it queued."""
    hop = send_at(net, SENT_AT)
    sent = AuditEvent.objects.get(action=AuditAction.HANDOFF_SENT, object_id=str(hop.pk))
    last_before = AuditEvent.objects.order_by("-id").first().id
    assert sweep_at(jst(11, 25, 15)) == 1
    (escalated,) = AuditEvent.objects.filter(id__gt=last_before)
    assert escalated.action == AuditAction.HANDOFF_ESCALATED
    for name in ("object_type", "sheet_id", "recipient_agency_id", "sections", "lawful_basis"):
        assert getattr(escalated, name) == getattr(sent, name)
    assert escalated.actor_kind == "system" and escalated.actor_label == "escalation"
    assert escalated.detail["consent_id"] == sent.detail["consent_id"]
    assert escalated.detail["status"] == "sent" and escalated.detail["level"] == 1
    assert escalated.detail["next_escalation_at"] == jst(11, 26, 15).isoformat()
    rows = OutboxMessage.objects.filter(event_type="handoff.escalated")
    assert sorted(r.channel for r in rows) == ["email", "webhook"]
    assert escalated.detail["notifications"] == [
        {
            "agency_id": net.npo.pk,
            "outbox_ids": [str(r.pk) for r in rows.order_by("-channel")],  # webhook first
            "channels": ["email", "in_app", "webhook"],
        }
    ]
    assert InAppNotification.objects.filter(event_type="handoff.escalated").count() == 1


def test_running_the_sweep_twice_escalates_once(net) -> None:
    hop = send_at(net, SENT_AT)
    assert sweep_at(jst(11, 25, 15, 1)) == 1
    assert sweep_at(jst(11, 25, 15, 1)) == 0
    assert sweep_at(jst(11, 25, 16, 30)) == 0
    assert len(escalations(hop)) == 1
    assert len(emails(hop)) == 1


def test_acknowledgment_stops_escalation(net) -> None:
    hop = send_at(net, SENT_AT)
    with time_machine.travel(jst(11, 25, 10), tick=False):
        services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    hop.refresh_from_db()
    assert hop.next_escalation_at is None
    for at in (jst(11, 25, 15), jst(11, 26, 15), jst(12, 10, 15)):
        assert sweep_at(at) == 0
    assert escalations(hop) == []


def test_an_urgent_sheet_is_due_in_4_business_hours(net) -> None:
    """Friday 15:00 + 4 business hours: 2 on Friday, then Tuesday 09:00-11:00."""
    hop = send_at(net, SENT_AT, urgency=Urgency.URGENT)
    assert hop.urgent and hop.ack_due_at == jst(11, 24, 11)


def test_the_receivers_closed_days_do_not_count(net) -> None:
    net.npo.closed_days = ["2026-11-24"]
    net.npo.save(update_fields=["closed_days"])
    hop = send_at(net, SENT_AT)
    assert hop.ack_due_at == jst(11, 26, 15)


def test_the_policy_at_send_is_kept_when_the_agency_changes_it(net) -> None:
    hop = send_at(net, SENT_AT)
    net.npo.escalation_policy = {
        "levels": [{"level": 1, "after_hours": 0, "notify": "coordinator"}]
    }
    net.npo.ack_sla_hours = 2
    net.npo.save(update_fields=["escalation_policy", "ack_sla_hours"])
    assert sweep_at(jst(11, 25, 15)) == 1
    hop.refresh_from_db()
    assert hop.escalation_policy["ack_hours"] == 16 and len(hop.escalation_policy["levels"]) == 3
    assert emails(hop) == [[net.npo.intake_email]]  # level 1 of the snapshot: receiver intake


def test_a_receiver_that_could_not_be_notified_is_escalated_over(net) -> None:
    """The hop's webhook ran out of retries (receiver_notified is off): at the deadline the
    receiver's supervisors and the sender are told at once (level 2)."""
    hop = send_at(net, SENT_AT)
    Handoff.objects.filter(pk=hop.pk).update(receiver_notified=False)
    assert sweep_at(jst(11, 25, 15)) == 1
    hop.refresh_from_db()
    assert hop.escalation_level == 2
    assert [d["level"] for d in escalations(hop)] == [2]


def test_the_outcome_reminder_goes_to_the_sender_once(net) -> None:
    """GIVEN a hop accepted Tuesday 11-24 10:00 and no outcome WHEN 80 business hours have
    passed (Tuesday 12-08 10:00) THEN the sender is reminded, once."""
    hop = send_at(net, SENT_AT)
    with time_machine.travel(jst(11, 24, 10), tick=False):
        services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    hop.refresh_from_db()
    assert hop.outcome_reminder_at == jst(12, 8, 10)
    # Setup since issue 16: half-way (Tuesday 12-01 10:00) the receiver, who must record the
    # outcome, is reminded first (tests/duework/test_hop_clocks.py asserts that step).
    with time_machine.travel(jst(12, 1, 10), tick=False):
        remind_missing_outcomes()
    with time_machine.travel(jst(12, 8, 9, 59), tick=False):
        assert remind_missing_outcomes() == 0
    with time_machine.travel(jst(12, 8, 10), tick=False):
        assert remind_missing_outcomes() == 1
        assert remind_missing_outcomes() == 0
    assert emails(hop, "handoff.outcome_reminder") == [
        ["counselor@example.invalid", net.ward.intake_email]
    ]


def test_the_overdue_digest_is_one_email_per_agency_once_a_business_day(
    net, deliver_all, mailoutbox
) -> None:
    """GIVEN three overdue hops at the NPO and one at child guidance WHEN the digest runs
    THEN each agency gets one e-mail listing its hops; not twice a day, not at weekends."""
    acknowledged, *npo_hops = [send_at(net, SENT_AT) for _ in range(4)]
    with time_machine.travel(jst(11, 24, 9), tick=False):  # acknowledged: not overdue
        services.handoff_acknowledge(staff=net.npo_intake, handoff_id=acknowledged.pk)
    with time_machine.travel(SENT_AT, tick=False):
        sheet = net.sheet()
        net.consent(sheet, to=[net.guidance])
        to_guidance = net.send(sheet, to=net.guidance)

    with time_machine.travel(jst(11, 25, 16), tick=False):
        assert send_overdue_digests() == 2
        assert send_overdue_digests() == 0
        digests = OutboxMessage.objects.filter(event_type="digest.overdue").order_by("agency_id")
        expected_npo = sorted(h.pk for h in npo_hops)
        assert [(d.agency_id, sorted(d.payload["data"]["handoff_ids"])) for d in digests] == [
            (net.npo.pk, expected_npo),
            (net.guidance.pk, [to_guidance.pk]),
        ]
        assert digests[0].recipients == [net.npo.intake_email, "npo-supervisor@example.invalid"]
        deliver_all()
    (npo_mail,) = [m for m in mailoutbox if net.npo.intake_email in m.to and "まとめ" in m.subject]
    assert "3 件" in npo_mail.body
    assert all(f"#{h.pk}" in npo_mail.body for h in npo_hops)
    with time_machine.travel(jst(11, 28, 8, 30), tick=False):  # Saturday
        assert send_overdue_digests() == 0
    with time_machine.travel(jst(11, 30, 8, 30), tick=False):  # Monday, a business day
        assert send_overdue_digests() == 2


@requires_postgres
@pytest.mark.usefixtures("transactional_db")
def test_two_concurrent_sweeps_escalate_each_hop_once(net) -> None:
    """GIVEN 12 due hops WHEN two sweeps run at once in two threads, each on its own
    connection, in small batches THEN every hop is escalated exactly once between them."""
    hops = [send_at(net, SENT_AT) for _ in range(12)]
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=10)
            counts.append(escalate_due(now=jst(11, 25, 15), batch=2))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and sum(counts) == 12, (counts, errors)
    for hop in hops:
        assert len(escalations(hop)) == 1
    assert set(Handoff.objects.values_list("escalation_level", flat=True)) == {1}
    assert OutboxMessage.objects.filter(event_type="handoff.escalated").count() == 12


@requires_postgres
@pytest.mark.usefixtures("transactional_db")
def test_a_backlog_is_shared_by_sweeper_threads_each_hop_once(net) -> None:
    """GIVEN 15 due hops, batches of 2 WHEN one sweep runs with 3 threads THEN the first
    batch reveals a backlog, the threads share the rest, and every hop escalates once."""
    hops = [send_at(net, SENT_AT) for _ in range(15)]
    assert escalate_due(now=jst(11, 25, 15), batch=2, workers=3) == 15
    assert all(len(escalations(hop)) == 1 for hop in hops)
    verified, broken = audit_verify()
    assert broken is None and verified == AuditEvent.objects.count()
