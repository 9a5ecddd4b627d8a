"""Celery tasks of attendance: take ids, call a service (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from agencies.models import Agency, AgencyKind
from attendance import services


@shared_task(acks_late=True, ignore_result=True)
def evaluate_schools() -> int:
    """Nightly: re-evaluate every school's rules for today's school year (idempotent)."""
    return services.schools_evaluate().pupils


@shared_task(acks_late=True, ignore_result=True)
def evaluate_school(*, school_id: int, school_year: int) -> int:
    """One school, after its calendar changed; quietly nothing if the school is gone."""
    school = Agency.objects.filter(pk=school_id, kind=AgencyKind.SCHOOL).first()
    if school is None:
        return 0
    return services.school_evaluate(school=school, school_year=school_year)
