"""Celery tasks: take an id, call a service, nothing else. Periodic ones are in the beat
schedule (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

from celery import shared_task

from relay import delivery

log = logging.getLogger(__name__)
# One quick retry (a pooled connection gone stale after a broker restart), then give up: the
# request that committed must not wait on a dead broker, the sweeper catches up.
FAN_OUT_ABOVE = 20
FAN_OUT_CHUNK = 500
_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox_message(message_id: str) -> str:
    """Deliver one outbox row; a duplicate or stale task finds nothing to claim and returns."""
    return delivery.deliver(message_id)


def enqueue_deliveries(ids: list[str], *, countdown: float | None = None) -> int:
    """After commit: hand rows to the broker; returns how many were handed over.

    Never raises: the rows are committed, and if the broker is down the sweeper delivers
    them later. (Raising here would turn a committed send into an error page.)
    """
    for done, message_id in enumerate(ids):
        try:
            deliver_outbox_message.apply_async(
                args=[message_id],
                countdown=countdown or None,
                retry=True,
                retry_policy=_RETRY_POLICY,
            )
        except Exception as exc:  # kombu OperationalError, redis/socket errors, ...
            log.warning(
                "broker unavailable, %d outbox row(s) left for the sweeper: %s",
                len(ids) - done,
                type(exc).__name__,
            )
            return done
    return len(ids)


def enqueue_after_commit(ids: list[str]) -> None:
    """A few rows: one delivery task each, at once. Many (an escalation sweep's batch): one
    fan-out task per chunk, so the committing process publishes a handful of messages."""
    if len(ids) <= FAN_OUT_ABOVE:
        enqueue_deliveries(ids)
        return
    for start in range(0, len(ids), FAN_OUT_CHUNK):
        chunk = ids[start : start + FAN_OUT_CHUNK]
        try:
            enqueue_outbox_messages.apply_async(
                args=[chunk], retry=True, retry_policy=_RETRY_POLICY
            )
        except Exception as exc:  # as in enqueue_deliveries: the sweeper catches up
            log.warning(
                "broker unavailable, %d outbox row(s) left for the sweeper: %s",
                len(ids) - start,
                type(exc).__name__,
            )
            return


@shared_task(acks_late=True, ignore_result=True)
def enqueue_outbox_messages(message_ids: list[str]) -> int:
    """Fan out many new outbox rows into one delivery task each."""
    return enqueue_deliveries(message_ids)


@shared_task(acks_late=True, ignore_result=True)
def sweep_outbox() -> int:
    """Re-enqueue outbox rows that are due and undelivered (broker was down, retry is due)."""
    return enqueue_deliveries(delivery.due_message_ids())


@shared_task(acks_late=True, ignore_result=True)
def sweep_escalations() -> int:
    """Escalate the handoffs whose next escalation time has come."""
    from relay.services.escalations import escalate_due

    return escalate_due()


@shared_task(acks_late=True, ignore_result=True)
def send_outcome_reminders() -> int:
    """Remind senders of accepted handoffs that still have no outcome."""
    from relay.services.escalations import remind_missing_outcomes

    return remind_missing_outcomes()


@shared_task(acks_late=True, ignore_result=True)
def send_overdue_digests() -> int:
    """Send each agency one e-mail listing its overdue handoffs (at most once a day)."""
    from relay.services.escalations import send_overdue_digests as send

    return send()


@shared_task(acks_late=True, ignore_result=True)
def expire_consents() -> int:
    """Mark consent records past their validity as expired (audited)."""
    from relay.services.consents import consents_expire_due

    return consents_expire_due()
