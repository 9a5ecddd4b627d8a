"""Celery tasks of the relay: take an id, call a service, nothing else. Periodic ones are in
the beat schedule (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from relay.services import consents, escalations


@shared_task(acks_late=True, ignore_result=True)
def send_overdue_digests() -> int:
    """Send each agency one e-mail listing its overdue handoffs (at most once a day)."""
    return escalations.send_overdue_digests()


@shared_task(acks_late=True, ignore_result=True)
def expire_consents() -> int:
    """Mark consent records past their validity as expired (audited)."""
    return consents.consents_expire_due()
