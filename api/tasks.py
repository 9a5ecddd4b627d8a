"""Periodic housekeeping of the API (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from api.idempotency import idempotency_records_purge


@shared_task
def purge_idempotency_records() -> int:
    """Delete Idempotency-Key records past their 24 hours."""
    return idempotency_records_purge()
