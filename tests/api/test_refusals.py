"""Refused API calls are on record, aggregated per actor, reason and minute."""

from __future__ import annotations

import pytest

from audit.models import AuditAction, AuditEvent
from audit.refusals import flush_all
from tests.api.helpers import bearer

pytestmark = pytest.mark.django_db


def _refusals() -> list[AuditEvent]:
    flush_all()
    return list(AuditEvent.objects.filter(action=AuditAction.ACCESS_REFUSED).order_by("id"))


def test_another_agencys_404s_are_one_event_with_a_count(api_client, net, sent, key_for) -> None:
    key = key_for(net.guidance)
    for _ in range(3):
        response = api_client.get(f"/api/v1/handoffs/{sent.pk}/", **bearer(key))
        assert response.status_code == 404
    [event] = _refusals()
    assert event.actor_kind == "api_client" and event.actor_agency_id == net.guidance.pk
    assert event.object_id == str(sent.pk) and event.detail["count"] == 3
    assert event.detail["reason"] == "api.not-found" and event.detail["status"] == 404


def test_a_missing_scope_403_is_recorded(api_client, net, sent, key_for) -> None:
    key = key_for(net.npo, "webhooks:manage")
    response = api_client.get(f"/api/v1/handoffs/{sent.pk}/", **bearer(key))
    assert response.status_code == 403
    [event] = _refusals()
    assert event.actor_agency_id == net.npo.pk and event.detail["status"] == 403


def test_an_unknown_key_401_is_recorded_by_address(api_client, sent) -> None:
    response = api_client.get(f"/api/v1/handoffs/{sent.pk}/", **bearer("tsk_not-a-key"))
    assert response.status_code == 401
    [event] = _refusals()
    assert event.actor_kind == "anonymous" and event.detail["status"] == 401
    assert event.detail["ip"] == "127.0.0.1"


def test_an_unsafe_webhook_url_is_recorded(api_client, net, key_for, settings) -> None:
    settings.TSUNAGU = {**settings.TSUNAGU, "WEBHOOK_ALLOW_PRIVATE": False}
    key = key_for(net.npo)
    response = api_client.put(
        "/api/v1/webhook/", {"url": "https://127.0.0.1/hook"}, format="json", **bearer(key)
    )
    assert response.status_code == 400
    [event] = _refusals()
    assert event.detail["reason"] == "webhook_url_unsafe" and event.actor_agency_id == net.npo.pk
