"""Celery tasks of the outbox: take an id, call delivery, nothing else. The sweep is in the
beat schedule (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from notifications import delivery
from notifications.enqueue import enqueue_deliveries


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox_message(message_id: str) -> str:
    """Deliver one outbox row; a duplicate or stale task finds nothing to claim and returns."""
    return delivery.deliver(message_id)


@shared_task(acks_late=True, ignore_result=True)
def enqueue_outbox_messages(message_ids: list[str]) -> int:
    """Fan out many new outbox rows into one delivery task each."""
    return enqueue_deliveries(message_ids)


@shared_task(acks_late=True, ignore_result=True)
def sweep_outbox() -> int:
    """Re-enqueue outbox rows that are due and undelivered (broker was down, retry is due)."""
    return enqueue_deliveries(delivery.due_message_ids())
