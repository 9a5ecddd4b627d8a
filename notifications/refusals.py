"""Refused access, recorded: counted per actor, reason and minute (audit.refusals) and, when
one actor's refusals in a minute reach AUDIT_REFUSAL_BURST, the supervisors of the actor's
agency are told through the outbox (once per window).

Called where a refusal is decided: the web views' error wrapper (relay.views.base), the API's
problem handler (api.problems) and the webhook URL guard (notifications.services). Never
inside the refused request's transaction, which rolls back.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, transaction

from agencies.models import Agency
from audit.context import Actor
from audit.refusals import refusal_count
from notifications.delivery import supervisor_emails
from notifications.models import Channel
from notifications.notify import notify_agency

log = logging.getLogger(__name__)
BURST_EVENT = "audit.refusal_burst"


def refusal_record(
    *,
    actor: Actor,
    reason: str,
    object_type: str = "",
    object_id: int | str | None = None,
    status: int = 404,
) -> None:
    """Count one refusal; a burst notifies the agency's supervisors. Never raises: a refusal
    must reach its client even when the counting table is unavailable (logged instead)."""
    try:
        counted = refusal_count(
            actor=actor,
            reason=reason,
            object_type=object_type,
            object_id=object_id,
            status=status,
            burst_at=settings.AUDIT_REFUSAL_BURST,
        )
        if counted.burst and actor.agency_id is not None:
            _tell_supervisors(actor=actor, reason=reason, count=counted.count)
    except DatabaseError:
        log.exception("refusal not counted (reason=%s, status=%s)", reason, status)


@transaction.atomic
def _tell_supervisors(*, actor: Actor, reason: str, count: int) -> None:
    if actor.agency_id is None:  # the caller checks; narrowed here for the query below
        return
    agency = Agency.objects.filter(pk=actor.agency_id).first()
    if agency is None:
        return
    notify_agency(
        BURST_EVENT,
        agency=agency,
        handoff=None,
        payload={
            "type": BURST_EVENT,
            "data": {
                "reason": reason,
                "count": count,
                "actor_user_id": actor.user_id,
                "actor_api_key_id": actor.api_key_id,
                "url": f"{settings.SITE_URL}/supervisor/audit/",
            },
        },
        actor=Actor.system("refusal-burst"),
        email_to=supervisor_emails(agency.pk),
        channels=[Channel.EMAIL],
    )
