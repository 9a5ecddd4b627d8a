"""End to end with real processes: a `celery worker` on the test database and a real broker
(Redis in the PostgreSQL run; the filesystem transport in the embedded run and in its own
test), a local HTTP receiver, and e-mail written to files. Faults are real too: a stopped
redis-server, a SIGKILLed worker, a receiver that fails or is gone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from duework.models import Clock
from notifications import signing, tasks
from notifications.enqueue import enqueue_deliveries
from notifications.models import (
    Channel,
    DeliveryAttempt,
    DeliveryState,
    EndpointState,
    OutboxMessage,
)
from relay.models import Handoff
from tests.conftest import requires_postgres
from tests.notifications.conftest import PERSONAL, settled
from tests.notifications.support import (
    independent_verify,
    mail_text,
    publishing_to,
    read_mail,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def send(net) -> Handoff:
    sheet = net.sheet()
    net.consent(sheet)
    return net.send(sheet)


def webhook_row(hop: Handoff) -> OutboxMessage:
    return OutboxMessage.objects.get(handoff=hop, channel=Channel.WEBHOOK)


def assert_one_signed_webhook_and_one_email(hop, endpoint, receiver, mail_dir) -> None:
    (request,) = receiver.webhooks()
    row = webhook_row(hop)
    assert request.headers["webhook-id"] == str(row.pk)
    assert signing.verify_signature(endpoint.secret, request.headers, request.body)
    assert independent_verify(endpoint.secret, request.headers, request.body)
    body = json.loads(request.body)
    assert body["type"] == "handoff.sent" and body["data"]["handoff_id"] == hop.pk

    (mail,) = wait_for(lambda: read_mail(mail_dir), timeout=10, what="the e-mail file")
    assert mail["to"] == hop.to_agency.intake_email
    text = mail_text(mail)
    assert "新しい引き継ぎ" in text and f"#{hop.pk}" in text
    for personal in PERSONAL:
        assert personal not in text and personal not in request.body.decode()
    assert AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_DELIVERED).count() == 2


def test_a_send_reaches_the_receiver_once_signed_and_the_email_lands(
    net, endpoint, receiver, broker, start_worker, mail_dir
) -> None:
    """GIVEN a running worker WHEN a hop is sent THEN after commit the receiver gets exactly
    one webhook that verifies with the endpoint's secret, and the intake e-mail is written."""
    start_worker(broker)
    hop = send(net)
    wait_for(settled(handoff=hop), what="both notifications to settle")
    assert set(OutboxMessage.objects.filter(handoff=hop).values_list("state", flat=True)) == {
        DeliveryState.DELIVERED
    }
    assert_one_signed_webhook_and_one_email(hop, endpoint, receiver, mail_dir)


def test_the_embedded_filesystem_broker_delivers_the_same_way(
    net, endpoint, receiver, filesystem_broker, start_worker, mail_dir
) -> None:
    """The embedded default: kombu's filesystem transport (no server), a real worker."""
    start_worker(filesystem_broker)
    hop = send(net)
    wait_for(settled(handoff=hop), what="both notifications to settle")
    assert_one_signed_webhook_and_one_email(hop, endpoint, receiver, mail_dir)


def test_a_send_while_redis_is_down_succeeds_and_the_sweeper_delivers_later(
    net, endpoint, receiver, private_redis, start_worker, mail_dir, caplog
) -> None:
    """GIVEN a worker on a redis-server that then stops WHEN a hop is sent THEN the send
    commits (no error), nothing is lost: once Redis is back, the sweeper delivers it."""
    broker_env = {"CELERY_BROKER_URL": private_redis.url}
    with publishing_to(private_redis.url, {}):
        from tests.notifications.conftest import Broker

        start_worker(Broker(url=private_redis.url, env=broker_env))
        private_redis.stop()

        hop = send(net)  # no exception: the broker is only needed after commit
        assert hop.status == "sent"
        assert "left for the sweeper" in caplog.text
        assert OutboxMessage.objects.filter(handoff=hop, state=DeliveryState.PENDING).count() == 2
        assert receiver.webhooks() == []

        private_redis.start()
        # The beat would run this every 15 s; here the test runs the sweep itself.
        wait_for(lambda: tasks.sweep_outbox() == 2, timeout=30, what="the sweep to enqueue")
        wait_for(settled(handoff=hop), what="the swept notifications to settle")
    assert_one_signed_webhook_and_one_email(hop, endpoint, receiver, mail_dir)


def test_a_worker_killed_mid_delivery_is_replaced_and_the_receiver_dedups(
    net, endpoint, receiver, broker, start_worker
) -> None:
    """GIVEN a receiver that hangs, so the worker is inside the HTTP call WHEN the worker is
    SIGKILLed and a new one started THEN after the lease runs out the sweeper redelivers
    under the same webhook-id, and a receiver that dedups accepts it once."""
    receiver.hang = True
    worker = start_worker(broker, DELIVERY_LEASE_SECONDS="2")
    hop = send(net)
    row = webhook_row(hop)
    wait_for(receiver.webhooks, what="the first webhook to arrive")
    worker.kill()
    receiver.release()
    row.refresh_from_db()
    assert row.state == DeliveryState.PENDING and row.locked_until is not None

    start_worker(broker, DELIVERY_LEASE_SECONDS="2")

    def redelivered() -> bool:
        tasks.sweep_outbox()  # what beat does every 15 s
        return settled(pk=row.pk)()

    wait_for(redelivered, timeout=40, what="the redelivery after the lease")
    requests = receiver.webhooks()
    assert len(requests) == 2
    assert {r.headers["webhook-id"] for r in requests} == {str(row.pk)}
    assert all(independent_verify(endpoint.secret, r.headers, r.body) for r in requests)
    assert list(receiver.accepted) == [str(row.pk)]
    row.refresh_from_db()
    assert row.state == DeliveryState.DELIVERED and row.attempts == 1


def test_a_receiver_failing_with_500_gets_it_on_a_retry_and_attempts_are_logged(
    net, endpoint, receiver, broker, start_worker
) -> None:
    receiver.plan = [500, 500]
    start_worker(broker, NOTIFICATION_RETRY_SCHEDULE="0,1,1,1")
    hop = send(net)
    row = webhook_row(hop)
    wait_for(settled(pk=row.pk), what="the retried webhook to settle")
    row.refresh_from_db()
    assert row.state == DeliveryState.DELIVERED and row.attempts == 3
    attempts = DeliveryAttempt.objects.filter(message=row).order_by("attempted_at")
    assert [(a.status_code, a.succeeded) for a in attempts] == [
        (500, False),
        (500, False),
        (200, True),
    ]
    assert {r.headers["webhook-id"] for r in receiver.webhooks()} == {str(row.pk)}
    assert len(receiver.accepted) == 1


def test_a_receiver_answering_410_is_disabled_and_its_supervisors_are_told(
    net, endpoint, receiver, broker, start_worker, mail_dir
) -> None:
    receiver.plan = [410]
    start_worker(broker)
    hop = send(net)
    wait_for(settled(pk=webhook_row(hop).pk), what="the webhook to settle")
    endpoint.endpoint.refresh_from_db()
    assert endpoint.endpoint.state == EndpointState.DISABLED
    assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_DISABLED).count() == 1
    wait_for(settled(event_type="webhook.disabled"), what="the supervisors' e-mail")

    def to_supervisor() -> list:
        return [m for m in read_mail(mail_dir) if m["to"] == "npo-supervisor@example.invalid"]

    (told,) = wait_for(to_supervisor, timeout=10, what="the supervisors' e-mail file")
    assert "410" in mail_text(told)
    hop.refresh_from_db()
    assert hop.receiver_notified is False


def test_an_escalation_sweeps_notifications_are_fanned_out_and_delivered(
    net, endpoint, receiver, broker, start_worker, mail_dir
) -> None:
    """GIVEN 24 hops past their deadline WHEN one sweep escalates them THEN their 48
    notifications leave the sweep as a single fan-out task, and the worker delivers them:
    one signed webhook per hop, one e-mail per hop."""
    from relay.services.escalations import escalate_due

    hops = [send(net) for _ in range(24)]
    Handoff.objects.filter(pk__in=[h.pk for h in hops]).update(
        next_escalation_at=timezone.now() - timedelta(minutes=1)
    )
    # The clocks themselves are duework rows (issue 16): make them due too.
    Clock.objects.filter(kind="handoff.ack", subject_id__in=[h.pk for h in hops]).update(
        next_fire_at=timezone.now() - timedelta(minutes=1)
    )
    worker = start_worker(broker)
    assert escalate_due() == 24
    escalated = OutboxMessage.objects.filter(event_type="handoff.escalated")
    assert escalated.count() == 48
    wait_for(settled(event_type="handoff.escalated"), timeout=60, what="48 deliveries")
    assert set(escalated.values_list("state", flat=True)) == {DeliveryState.DELIVERED}
    bodies = [json.loads(r.body) for r in receiver.webhooks()]
    assert sorted(b["data"]["handoff_id"] for b in bodies if b["type"] == "handoff.escalated") == (
        sorted(h.pk for h in hops)
    )
    assert all(independent_verify(endpoint.secret, r.headers, r.body) for r in receiver.webhooks())
    mails = [m for m in read_mail(mail_dir) if "期限" in mail_text(m)]
    assert len(mails) == 24
    assert "notifications.tasks.enqueue_outbox_messages[" in worker.log_path.read_text()


def test_a_threads_pool_worker_delivers_each_of_a_batch_once_even_with_duplicate_tasks(
    net, endpoint, receiver, broker, start_worker, mail_dir
) -> None:
    """GIVEN one worker with a pool of 4 threads (as compose runs it) WHEN eight hops are sent
    and every row's task is enqueued a second time (a redelivery, a sweep racing the commit)
    THEN the threads race for the rows, and each webhook and each e-mail goes out once."""
    start_worker(broker, pool="threads", concurrency=4)
    hops = [send(net) for _ in range(8)]
    ids = [
        str(pk)
        for pk in OutboxMessage.objects.filter(handoff__in=hops).values_list("pk", flat=True)
    ]
    assert len(ids) == 16  # a webhook and an e-mail per hop
    enqueue_deliveries(ids)
    wait_for(settled(handoff__in=hops), what="every notification of the batch to settle")

    assert sorted(r.headers["webhook-id"] for r in receiver.webhooks()) == sorted(
        str(webhook_row(hop).pk) for hop in hops
    )
    assert all(independent_verify(endpoint.secret, r.headers, r.body) for r in receiver.webhooks())
    rows = OutboxMessage.objects.filter(pk__in=ids)
    assert {(row.state, row.attempts) for row in rows} == {(DeliveryState.DELIVERED, 1)}
    assert DeliveryAttempt.objects.filter(message__in=ids).count() == 16
    # Each e-mail is written before its row is marked delivered: all eight are there, once.
    assert len(read_mail(mail_dir)) == 8


@requires_postgres
def test_a_worker_keeps_its_connections_and_survives_them_being_cut(
    net, endpoint, receiver, broker, start_worker
) -> None:
    """GIVEN a threads worker that delivered a send WHEN PostgreSQL cuts its connections (a
    restart, a failover, an administrator) THEN the next send is still delivered at once: the
    connection kept between tasks is checked before reuse and replaced."""
    start_worker(broker, pool="threads", concurrency=2)
    first = send(net)
    wait_for(settled(handoff=first), what="the first send's notifications to settle")
    with connection.cursor() as cursor:  # the worker connects as the same role as this test
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (cut,) = cursor.fetchone()
    assert cut >= 1  # the worker had kept a connection open between tasks

    second = send(net)
    wait_for(settled(handoff=second), what="the second send's notifications to settle")
    rows = OutboxMessage.objects.filter(handoff=second)
    assert {(row.state, row.attempts) for row in rows} == {(DeliveryState.DELIVERED, 1)}
    assert {r.headers["webhook-id"] for r in receiver.webhooks()} == {
        str(webhook_row(first).pk),
        str(webhook_row(second).pk),
    }
