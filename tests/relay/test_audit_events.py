"""Each step of a hop writes exactly its audit events, in the same transaction."""

from __future__ import annotations

import pytest

from audit.models import AuditAction as A
from audit.models import AuditEvent
from audit.services import audit_verify
from relay import services

pytestmark = pytest.mark.django_db


def _mark() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _since(mark: int) -> list[tuple[str, str]]:
    return list(AuditEvent.objects.filter(id__gt=mark).values_list("action", "object_type"))


def test_the_life_of_a_hop_in_audit_events(net) -> None:
    mark = _mark()
    sheet = net.sheet()
    assert _since(mark) == [(A.ACCESS_GRANTED, "sheet"), (A.SHEET_CREATED, "sheet")]

    mark = _mark()
    net.consent(sheet)
    assert _since(mark) == [(A.CONSENT_RECORDED, "consent")]

    mark = _mark()
    hop = net.send(sheet)
    assert _since(mark) == [
        (A.HANDOFF_CREATED, "handoff"),
        (A.HANDOFF_SENT, "handoff"),
        (A.ACCESS_GRANTED, "sheet"),
        (A.NOTIFICATION_QUEUED, "handoff"),
    ]
    sent = AuditEvent.objects.get(action=A.HANDOFF_SENT)
    assert sent.recipient_agency_id == net.npo.pk and sent.sections == ["basic", "consultation"]
    assert sent.actor_user_id == net.counselor.user_id and sent.actor_agency_id == net.ward.pk

    mark = _mark()
    services.sheet_view(staff=net.npo_intake, sheet_id=sheet.pk)
    viewed = AuditEvent.objects.get(id__gt=mark)
    assert viewed.action == A.SHEET_VIEWED and viewed.actor_agency_id == net.npo.pk
    assert viewed.sections == ["basic", "consultation"]

    mark = _mark()
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    services.handoff_decline(staff=net.npo_intake, handoff_id=hop.pk, reason="no_capacity")
    assert _since(mark) == [
        (A.HANDOFF_ACKNOWLEDGED, "handoff"),
        (A.HANDOFF_DECLINED, "handoff"),
        (A.ACCESS_REVOKED, "sheet"),
        (A.NOTIFICATION_QUEUED, "handoff"),
    ]
    assert audit_verify()[1] is None


def test_no_personal_data_in_audit_events(net) -> None:
    sheet = net.sheet(subject_full_name="明石 太郎")
    net.consent(sheet)
    net.send(sheet)
    services.sheet_view(staff=net.npo_intake, sheet_id=sheet.pk)
    dump = " ".join(
        str(row) for row in AuditEvent.objects.values_list("detail", "actor_label", "object_id")
    )
    for personal in ("明石 太郎", "A.T", "登校しぶり", "母と二人暮らし"):
        assert personal not in dump
