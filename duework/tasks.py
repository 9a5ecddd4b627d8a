"""The one beat task of the due-work engine (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from duework.services import sweep_due


@shared_task(acks_late=True, ignore_result=True)
def sweep_due_work() -> int:
    """Fire every clock whose next level has come (SKIP LOCKED: two at once fire each once)."""
    return sweep_due()
