"""Celery tasks: take an id, call a service, nothing else. Periodic ones are in the beat
schedule (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

from celery import shared_task
from kombu.exceptions import OperationalError

from relay import delivery

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox_message(message_id: str) -> str:
    """Deliver one outbox row; a duplicate or stale task finds nothing to claim and returns."""
    return delivery.deliver(message_id)


def enqueue_deliveries(ids: list[str]) -> None:
    """After commit: hand rows to the broker. If it is down, the sweeper delivers them later."""
    for message_id in ids:
        try:
            deliver_outbox_message.apply_async(args=[message_id], retry=False)
        except (OperationalError, OSError) as exc:
            log.warning(
                "broker unavailable, outbox %s left for the sweeper: %s",
                message_id,
                type(exc).__name__,
            )
            return


@shared_task(acks_late=True, ignore_result=True)
def sweep_outbox() -> int:
    """Re-enqueue outbox rows that are due and undelivered (broker was down, retry is due)."""
    ids = delivery.due_message_ids()
    enqueue_deliveries(ids)
    return len(ids)


@shared_task(acks_late=True, ignore_result=True)
def sweep_escalations() -> int:
    from relay.services.escalations import escalate_due

    return escalate_due()


@shared_task(acks_late=True, ignore_result=True)
def send_outcome_reminders() -> int:
    from relay.services.escalations import remind_missing_outcomes

    return remind_missing_outcomes()


@shared_task(acks_late=True, ignore_result=True)
def send_overdue_digests() -> int:
    from relay.services.escalations import send_overdue_digests as send

    return send()
