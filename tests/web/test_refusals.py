"""Refused web requests are on record: one aggregated audit event per actor, reason and
minute, and a burst tells the prober's supervisors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from audit.refusals import flush_all
from notifications.models import OutboxMessage
from notifications.refusals import BURST_EVENT
from relay import services

pytestmark = pytest.mark.django_db


def _npo_sheet(net):
    return services.sheet_create(
        staff=net.npo_supervisor,
        data={
            "subject_initials": "Z.Z",
            "consulted_on": "2026-11-01",
            "consulter": "person",
            "consultation": "NPO自身の相談",
        },
    )


def test_cross_agency_404s_are_one_aggregated_event(net, login, sent) -> None:
    """GIVEN a hop from the ward to the NPO
    WHEN the guidance center's intake opens it twice, and the ward's counselor opens an NPO
    sheet once
    THEN each gets 404, and flushing writes one ACCESS_REFUSED event per actor and reason,
    with the count and the ids asked for."""
    _sheet, hop = sent
    prober = login(net.guidance_intake)
    url = reverse("relay:handoff-detail", args=[hop.pk])
    assert prober.get(url).status_code == 404
    assert prober.get(url).status_code == 404
    other = _npo_sheet(net)
    assert login(net.counselor).get(reverse("relay:sheet-detail", args=[other.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.ACCESS_REFUSED).exists()

    assert flush_all() == 2
    refused = {
        e.actor_user_id: e for e in AuditEvent.objects.filter(action=AuditAction.ACCESS_REFUSED)
    }
    guidance = refused[net.guidance_intake.user_id]
    assert guidance.actor_agency_id == net.guidance.pk
    assert (guidance.object_type, guidance.object_id) == ("handoff", str(hop.pk))
    assert guidance.detail["count"] == 2 and guidance.detail["reason"] == "web.not_found"
    assert guidance.detail["targets"] == [f"handoff:{hop.pk}", f"handoff:{hop.pk}"]
    ward = refused[net.counselor.user_id]
    assert (ward.object_type, ward.object_id, ward.detail["count"]) == ("sheet", str(other.pk), 1)
    assert flush_all() == 0  # flushed windows are gone


def test_a_role_refusal_is_recorded(net, login) -> None:
    assert login(net.counselor).get(reverse("relay:audit-log")).status_code == 403
    flush_all()
    event = AuditEvent.objects.get(action=AuditAction.ACCESS_REFUSED)
    assert event.detail["reason"] == "web.role" and event.detail["status"] == 403


def test_a_burst_notifies_the_probers_supervisors_once(net, login, settings) -> None:
    settings.AUDIT_REFUSAL_BURST = 3
    client = login(net.counselor)
    for _ in range(5):
        sheet = _npo_sheet(net)
        assert client.get(reverse("relay:sheet-detail", args=[sheet.pk])).status_code == 404
    told = OutboxMessage.objects.filter(event_type=BURST_EVENT)
    assert told.count() >= 1 and {m.agency_id for m in told} == {net.ward.pk}
    assert len({m.agency_id for m in told}) == 1
    flush_all()
    event = AuditEvent.objects.get(action=AuditAction.ACCESS_REFUSED)
    assert event.detail["count"] == 5 and event.detail["burst"] is True
    # Ids only in the notification: never a name or a sheet's content.
    assert told.first().payload["data"]["actor_user_id"] == net.counselor.user_id
    assert "Z.Z" not in str(told.first().payload)
