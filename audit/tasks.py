"""Celery tasks of the audit trail (beat: settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from audit import refusals, verification


@shared_task(acks_late=True, ignore_result=True)
def verify_new_events() -> bool:
    """Verify the events appended since the last run against the newest anchor; stores it."""
    return verification.verify(full=False).ok


@shared_task(acks_late=True, ignore_result=True)
def checkpoint() -> int | None:
    """Verify, then sign the heads into the database and the external anchor directory."""
    _report, anchor = verification.checkpoint()
    return anchor.pk if anchor else None


@shared_task(acks_late=True, ignore_result=True)
def flush_refusals() -> int:
    """Write each finished minute of counted refusals to the chain as one event."""
    return refusals.flush()
