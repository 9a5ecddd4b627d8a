"""Outbox delivery in this process against a real local HTTP receiver: claim, sign, retry,
Retry-After, 410, exhausted retries, and what a notification may say."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connections
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from notifications import delivery, signing
from notifications.models import (
    Channel,
    DeliveryAttempt,
    DeliveryState,
    EndpointState,
    InAppNotification,
    OutboxMessage,
    WebhookEndpoint,
)
from notifications.transport import Result
from relay import services
from relay.models import Handoff
from relay.states import CancelReason, DeclineReason
from tests.notifications.conftest import PERSONAL
from tests.notifications.support import independent_verify

pytestmark = pytest.mark.django_db


def _sent(net, **sheet):
    sheet = net.sheet(**sheet)
    net.consent(sheet)
    return net.send(sheet)


def _webhook_row(hop: Handoff, event: str = "handoff.sent") -> OutboxMessage:
    return OutboxMessage.objects.get(handoff=hop, channel=Channel.WEBHOOK, event_type=event)


def test_a_send_queues_email_webhook_and_in_app_notice_with_the_send(
    net, endpoint, django_capture_on_commit_callbacks
) -> None:
    """GIVEN an NPO with an intake address and a webhook endpoint WHEN a hop is sent to it
    THEN one e-mail row and one webhook row are written with the send, an in-app notice,
    one NOTIFICATION_QUEUED event naming them, and one enqueue is scheduled for after commit."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        hop = _sent(net)
    rows = OutboxMessage.objects.filter(handoff=hop).order_by("channel")
    assert [(r.channel, r.event_type, r.state) for r in rows] == [
        ("email", "handoff.sent", "pending"),
        ("webhook", "handoff.sent", "pending"),
    ]
    assert rows[0].recipients == [net.npo.intake_email]
    assert InAppNotification.objects.filter(agency=net.npo, handoff=hop).count() == 1
    queued = AuditEvent.objects.get(action=AuditAction.NOTIFICATION_QUEUED, object_id=str(hop.pk))
    assert sorted(queued.detail["outbox_ids"]) == sorted(str(r.pk) for r in rows)
    assert queued.detail["channels"] == ["email", "in_app", "webhook"]
    assert len(callbacks) == 1


def test_delivery_signs_the_webhook_and_says_nothing_about_the_person(
    net, endpoint, receiver, deliver_all, mailoutbox
) -> None:
    """GIVEN a sent hop WHEN its notifications are delivered THEN the receiver gets one
    webhook that both our verifier and an independent one accept, with the outbox id as
    webhook-id and ids and links only; the e-mail (Japanese, with an English line) neither."""
    hop = _sent(net)
    assert sorted(deliver_all()) == ["delivered", "delivered"]

    (request,) = receiver.webhooks()
    row = _webhook_row(hop)
    assert request.headers["webhook-id"] == str(row.pk)
    assert request.headers["content-type"] == "application/json"
    assert signing.verify_signature(endpoint.secret, request.headers, request.body)
    assert independent_verify(endpoint.secret, request.headers, request.body)
    body = json.loads(request.body)
    assert body["type"] == "handoff.sent" and body["id"] == str(row.pk)
    assert body["data"]["handoff_id"] == hop.pk
    assert body["data"]["to_agency"] == "npo" and body["data"]["from_agency"] == "ward"
    assert body["data"]["api_url"].endswith(f"/api/v1/handoffs/{hop.pk}/")

    (mail,) = mailoutbox
    assert mail.to == [net.npo.intake_email]
    assert "新しい引き継ぎ" in mail.subject and f"#{hop.pk}" in mail.subject
    assert f"#{hop.pk}" in mail.body and "This is a notification from Tsunagu" in mail.body
    assert "&amp;" not in mail.body
    for text in (request.body.decode(), mail.subject, mail.body):
        for personal in PERSONAL:
            assert personal not in text

    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"delivered"}
    delivered = AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_DELIVERED)
    assert sorted(e.detail["channel"] for e in delivered) == ["email", "webhook"]


def test_no_notification_of_any_event_carries_personal_data(
    net, endpoint, receiver, deliver_all, mailoutbox
) -> None:
    """Declined, cancelled and withdrawn hops, and escalations, notify in ids and links too."""
    declined = _sent(net)
    services.handoff_decline(
        staff=net.npo_intake, handoff_id=declined.pk, reason=DeclineReason.NO_CAPACITY
    )
    cancelled = _sent(net, subject_initials="K.M")
    services.handoff_cancel(
        staff=net.counselor, handoff_id=cancelled.pk, reason=CancelReason.SENT_IN_ERROR
    )
    escalated = _sent(net)
    from relay.services.escalations import escalate_due

    assert escalate_due(now=escalated.ack_due_at) == 1
    deliver_all()
    events = set(OutboxMessage.objects.values_list("event_type", flat=True))
    assert {"handoff.sent", "handoff.declined", "handoff.cancelled", "handoff.escalated"} <= events
    texts = [r.body.decode() for r in receiver.webhooks()]
    texts += [m.subject + m.body for m in mailoutbox]
    assert len(texts) >= 8
    for text in texts:
        for personal in (*PERSONAL, "K.M"):
            assert personal not in text


def test_a_delivery_is_logged_and_audited_with_its_hop_sheet_and_attempt_count(
    net, endpoint, receiver
) -> None:
    """GIVEN a webhook row WHEN it is delivered THEN the row is delivered with one attempt,
    the attempt is logged with the receiver's status, and the audit event names the row, the
    receiving agency, the hop's sheet and the attempt count (what the claim read with the row:
    on PostgreSQL one statement, on SQLite the ORM)."""
    hop = _sent(net)
    row = _webhook_row(hop)
    assert delivery.deliver(str(row.pk)) == "delivered"
    row.refresh_from_db()
    assert (row.state, row.attempts, row.locked_until, row.last_error) == (
        DeliveryState.DELIVERED, 1, None, ""
    )  # fmt: skip
    assert row.delivered_at is not None
    (attempt,) = DeliveryAttempt.objects.filter(message=row)
    assert (attempt.succeeded, attempt.status_code, attempt.error) == (True, 200, "")
    assert attempt.attempted_at == row.delivered_at
    event = AuditEvent.objects.get(action=AuditAction.NOTIFICATION_DELIVERED, object_id=str(row.pk))
    assert (event.object_type, event.recipient_agency_id, event.sheet_id) == (
        "outbox", net.npo.pk, hop.sheet_id
    )  # fmt: skip
    assert event.detail == {"channel": "webhook", "event": "handoff.sent", "attempts": 1}


def test_a_success_for_a_row_settled_meanwhile_is_logged_and_changes_nothing(
    net, endpoint, receiver
) -> None:
    """GIVEN a claimed row that was settled while it was being sent (cancelled by an operator,
    or delivered by a worker that took it over after our lease ran out) WHEN our success is
    recorded THEN the attempt is logged, and the row and the audit trail are left as they are."""
    row = _webhook_row(_sent(net))
    claimed = delivery.claim(str(row.pk))
    assert claimed is not None
    OutboxMessage.objects.filter(pk=row.pk).update(state=DeliveryState.CANCELLED)
    outcome = delivery.record_result(
        claimed.message, Result(ok=True, status_code=204), latency_ms=3
    )
    assert outcome == "already-settled"
    row.refresh_from_db()
    assert (row.state, row.attempts, row.delivered_at) == (DeliveryState.CANCELLED, 0, None)
    assert DeliveryAttempt.objects.filter(message=row, succeeded=True, status_code=204).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_DELIVERED).exists()


def test_two_claims_for_one_row_one_wins(net, endpoint, receiver) -> None:
    """Two tasks for the same row (a redelivery): one claims and sends, the other finds
    nothing to do; the receiver gets the webhook once."""
    row = _webhook_row(_sent(net))
    first = delivery.claim(str(row.pk))
    assert first is not None
    assert delivery.claim(str(row.pk)) is None
    assert delivery.deliver(str(row.pk)) == "not-claimed"
    assert delivery.deliver("not-a-uuid") == "not-claimed"  # a stray task is dropped quietly
    assert receiver.webhooks() == []

    row.refresh_from_db()
    with time_machine.travel(row.locked_until + timedelta(seconds=1), tick=False):
        # The lease ran out (the worker died): the row can be claimed again.
        assert delivery.deliver(str(row.pk)) == "delivered"
        assert delivery.deliver(str(row.pk)) == "not-claimed"
    assert len(receiver.webhooks()) == 1


@pytest.mark.django_db(transaction=True)
def test_threads_delivering_the_same_batch_send_each_row_once(
    net, endpoint, receiver, mailoutbox, monkeypatch
) -> None:
    """The threads of a `--pool threads` worker (as compose runs it), each with its own
    database connection, all try every row of one batch at once: each webhook and each
    e-mail goes out once, with one attempt logged, whichever thread claimed it."""
    # The rows are delivered here, by the threads; nothing goes to the broker.
    monkeypatch.setattr(
        "notifications.enqueue.current_app", SimpleNamespace(send_task=lambda *a, **k: None)
    )
    hops = [_sent(net) for _ in range(6)]
    ids = [
        str(pk)
        for pk in OutboxMessage.objects.filter(handoff__in=hops).values_list("pk", flat=True)
    ]
    assert len(ids) == 12
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def worker_thread(order: list[str]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.extend(delivery.deliver(message_id) for message_id in order)
        finally:
            connections.close_all()  # what Celery's Django fixup does after each task

    # All in the same order: every row is raced for by all four at once.
    threads = [threading.Thread(target=worker_thread, args=(ids,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Counter(outcomes) == {"delivered": 12, "not-claimed": 36}
    webhook_ids = [r.headers["webhook-id"] for r in receiver.webhooks()]
    assert sorted(webhook_ids) == sorted(str(_webhook_row(hop).pk) for hop in hops)
    assert len(mailoutbox) == 6
    rows = OutboxMessage.objects.filter(pk__in=ids)
    assert {(row.state, row.attempts) for row in rows} == {(DeliveryState.DELIVERED, 1)}
    assert DeliveryAttempt.objects.filter(message__in=ids).count() == 12


def test_a_500_is_retried_on_the_schedule_and_every_attempt_is_logged(
    net, endpoint, receiver
) -> None:
    row = _webhook_row(_sent(net))
    receiver.plan = [500, 502]
    started = timezone.now()
    assert delivery.deliver(str(row.pk)) == "retry"
    row.refresh_from_db()
    # Schedule [0, 5, 300, ...]: after the first failure, 5 s plus up to 10 % jitter.
    assert timedelta(seconds=5) <= row.next_attempt_at - started <= timedelta(seconds=6)
    assert row.state == "pending" and row.attempts == 1 and row.last_error == "HTTP 500"
    assert delivery.deliver(str(row.pk)) == "not-claimed"  # not due yet

    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1), tick=False):
        assert delivery.deliver(str(row.pk)) == "retry"
    row.refresh_from_db()
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1), tick=False):
        assert delivery.deliver(str(row.pk)) == "delivered"

    attempts = list(DeliveryAttempt.objects.filter(message=row).order_by("attempted_at"))
    assert [(a.status_code, a.succeeded) for a in attempts] == [
        (500, False),
        (502, False),
        (200, True),
    ]
    assert all(a.latency_ms is not None for a in attempts)
    assert {r.headers["webhook-id"] for r in receiver.webhooks()} == {str(row.pk)}
    row.refresh_from_db()
    assert row.state == "delivered" and row.attempts == 3 and row.last_error == ""


@pytest.mark.parametrize("header", ["seconds", "http-date"])
def test_retry_after_is_honoured(net, endpoint, receiver, header: str) -> None:
    row = _webhook_row(_sent(net))
    receiver.plan = [503]
    receiver.retry_after = (
        "120"
        if header == "seconds"
        else format_datetime(timezone.now() + timedelta(seconds=120), usegmt=True)
    )
    started = timezone.now()
    assert delivery.deliver(str(row.pk)) == "retry"
    row.refresh_from_db()
    assert row.next_attempt_at - started >= timedelta(seconds=118)  # not the schedule's 5 s
    assert row.next_attempt_at - started <= timedelta(seconds=125)


def test_a_410_disables_the_endpoint_cancels_what_waits_and_tells_supervisors(
    net, endpoint, receiver, deliver_all, mailoutbox
) -> None:
    """GIVEN two hops waiting for the NPO's endpoint WHEN it answers 410 THEN it is disabled
    (audited), the other webhook is not sent, escalation treats both receivers as not
    notified, the NPO's supervisors get one e-mail, and later sends queue no webhook."""
    first, second = _sent(net), _sent(net)
    receiver.plan = [410]
    assert delivery.deliver(str(_webhook_row(first).pk)) == "gone"

    endpoint.endpoint.refresh_from_db()
    assert endpoint.endpoint.state == EndpointState.DISABLED
    assert endpoint.endpoint.state_reason == "HTTP 410"
    assert _webhook_row(first).state == DeliveryState.FAILED
    assert _webhook_row(second).state == DeliveryState.CANCELLED
    assert list(
        Handoff.objects.filter(pk__in=[first.pk, second.pk]).values_list(
            "receiver_notified", flat=True
        )
    ) == [False, False]
    disabled = AuditEvent.objects.get(action=AuditAction.WEBHOOK_DISABLED)
    assert disabled.recipient_agency_id == net.npo.pk and disabled.detail["cancelled"] == 1

    deliver_all()
    assert len(receiver.webhooks()) == 1
    (told,) = [m for m in mailoutbox if "Webhook" in m.subject]
    assert told.to == ["npo-supervisor@example.invalid"]
    assert "410" in told.body

    third = _sent(net)
    assert not OutboxMessage.objects.filter(handoff=third, channel=Channel.WEBHOOK).exists()
    assert OutboxMessage.objects.filter(handoff=third, channel=Channel.EMAIL).exists()


def test_exhausted_retries_mark_the_endpoint_failing_and_tell_supervisors_once(
    net, endpoint, receiver, deliver_all, mailoutbox, settings
) -> None:
    """GIVEN a receiver that keeps failing WHEN two webhooks run out of retries THEN each is
    failed (audited), the endpoint is 'failing', supervisors are told once, and the hops
    escalate as not notified; a later success makes the endpoint healthy again."""
    settings.TSUNAGU = {**settings.TSUNAGU, "RETRY_SCHEDULE": [0, 1]}
    first, second = _sent(net), _sent(net)
    receiver.plan = [500] * 4
    for hop in (first, second):
        row = _webhook_row(hop)
        assert delivery.deliver(str(row.pk)) == "retry"
        row.refresh_from_db()
        with time_machine.travel(row.next_attempt_at + timedelta(seconds=1), tick=False):
            assert delivery.deliver(str(row.pk)) == "failed"
    endpoint.endpoint.refresh_from_db()
    assert endpoint.endpoint.state == EndpointState.FAILING
    assert AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_FAILED).count() == 2
    assert not Handoff.objects.filter(pk__in=[first.pk, second.pk], receiver_notified=True)
    failing = OutboxMessage.objects.filter(event_type="webhook.failing")
    assert failing.count() == 1 and failing.get().recipients == ["npo-supervisor@example.invalid"]

    third = _sent(net)
    assert delivery.deliver(str(_webhook_row(third).pk)) == "delivered"
    endpoint.endpoint.refresh_from_db()
    assert endpoint.endpoint.state == EndpointState.ACTIVE


def test_a_row_for_an_endpoint_disabled_meanwhile_is_dropped_quietly(
    net, endpoint, receiver
) -> None:
    row = _webhook_row(_sent(net))
    WebhookEndpoint.objects.filter(pk=endpoint.endpoint.pk).update(state=EndpointState.DISABLED)
    assert delivery.deliver(str(row.pk)) == "skipped"
    row.refresh_from_db()
    assert row.state == DeliveryState.CANCELLED
    assert receiver.webhooks() == []
    assert not OutboxMessage.objects.filter(event_type__startswith="webhook.").exists()
    endpoint.endpoint.refresh_from_db()
    assert endpoint.endpoint.state == EndpointState.DISABLED  # not flipped to "failing"


def test_the_sweeper_picks_due_unleased_rows_only(net, endpoint) -> None:
    hop = _sent(net)
    rows = {r.channel: r for r in OutboxMessage.objects.filter(handoff=hop)}
    now = timezone.now()
    assert set(delivery.due_message_ids(now=now, grace_seconds=0)) == {
        str(r.pk) for r in rows.values()
    }
    # Young rows are left to the task enqueued on commit.
    assert delivery.due_message_ids(now=now, grace_seconds=60) == []
    delivery.claim(str(rows["webhook"].pk))
    assert delivery.due_message_ids(now=timezone.now(), grace_seconds=0) == [str(rows["email"].pk)]
    later = timezone.now() + timedelta(hours=1)
    assert len(delivery.due_message_ids(now=later, grace_seconds=0)) == 2  # lease ran out
