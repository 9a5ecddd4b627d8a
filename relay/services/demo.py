"""Demo data only: the one write the demo network needs that no workflow step makes."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from agencies.errors import NotAllowed
from duework.policy import HANDOFF_ACK
from duework.services import clock_move
from relay.models import Handoff


@transaction.atomic
def demo_handoff_backdate(*, handoff_id: int, days: int) -> None:
    """Move a sent hop's clocks `days` into the past, so the demo shows overdue and escalated
    hops without waiting for them. Refused where the demo is not allowed (production)."""
    if not settings.TSUNAGU["DEMO_ALLOWED"]:
        raise NotAllowed()
    shift = timedelta(days=days)
    Handoff.objects.filter(pk=handoff_id, sent_at__isnull=False).update(
        sent_at=F("sent_at") - shift,
        ack_due_at=F("ack_due_at") - shift,
        next_escalation_at=F("next_escalation_at") - shift,
    )
    hop = Handoff.objects.filter(pk=handoff_id).first()
    if hop is not None:
        clock_move(kind=HANDOFF_ACK, subject=hop, shift=-shift)
