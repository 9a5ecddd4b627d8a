"""The receiver's and the sender's actions through the API: state, audit, ETag, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from api.models import APIKey
from audit.models import AuditAction, AuditEvent
from relay.models import Handoff, SheetAccess
from tests.api.helpers import assert_problem, bearer

pytestmark = pytest.mark.django_db


def _events(hop: Handoff, action: str) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(object_type="handoff", object_id=str(hop.pk), action=action)
    )


@pytest.fixture
def npo(net, key_for) -> dict[str, Any]:
    """Request kwargs with a key of the receiving NPO (every scope)."""
    return bearer(key_for(net.npo))


@pytest.fixture
def ward(net, key_for) -> dict[str, Any]:
    """Request kwargs with a key of the sending ward desk (every scope)."""
    return bearer(key_for(net.ward))


def _post(path: str, body: dict[str, Any] | None = None, **headers: Any) -> Any:
    return APIClient().post(path, body or {}, format="json", **headers)


@pytest.mark.parametrize(
    ("action", "body", "status", "audit"),
    [
        ("acknowledge", {"note": "確認しました"}, "acknowledged", AuditAction.HANDOFF_ACKNOWLEDGED),
        ("accept", {}, "accepted", AuditAction.HANDOFF_ACCEPTED),
        (
            "decline",
            {"reason": "no_capacity", "note": "定員"},
            "declined",
            AuditAction.HANDOFF_DECLINED,
        ),
    ],
)
def test_receiver_actions_change_state_and_are_audited_as_the_key(
    net, sent, npo, action, body, status, audit
) -> None:
    """GIVEN a sent hop WHEN the NPO's system POSTs the action THEN the new state and ETag are
    answered, the hop is saved so, and one audit event names the API key as the actor."""
    response = _post(f"/api/v1/handoffs/{sent.pk}/{action}/", body, **npo)

    assert response.status_code == 200, response.content
    sent.refresh_from_db()
    assert response.json()["status"] == sent.status == status
    assert response["ETag"] == response.json()["etag"] == f'"{sent.pk}-{sent.version}"'
    (event,) = _events(sent, audit)
    key = APIKey.objects.get(agency=net.npo)
    assert (event.actor_kind, event.actor_api_key_id, event.actor_agency_id) == (
        "api_client",
        key.pk,
        net.npo.pk,
    )


def test_decline_revokes_the_receivers_access_to_the_content(net, sent, npo) -> None:
    """GIVEN a declined hop WHEN the NPO reads it THEN it sees the hop, not the content."""
    _post(f"/api/v1/handoffs/{sent.pk}/decline/", {"reason": "out_of_scope"}, **npo)
    sent.refresh_from_db()
    assert sent.decline_reason == "out_of_scope"
    assert not SheetAccess.objects.filter(handoff=sent).exists()

    detail = APIClient().get(f"/api/v1/handoffs/{sent.pk}/", **npo)
    assert detail.status_code == 200 and detail.json()["content"] == {}
    sheet = APIClient().get(f"/api/v1/sheets/{sent.sheet_id}/", **npo)
    assert_problem(sheet, status=404, slug="not-found")


def test_complete_records_the_outcome(net, sent, npo) -> None:
    _post(f"/api/v1/handoffs/{sent.pk}/accept/", **npo)
    response = _post(
        f"/api/v1/handoffs/{sent.pk}/complete/",
        {"outcome": "support_started", "note": "週2回"},
        **npo,
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "support_started"
    assert len(_events(sent, AuditAction.HANDOFF_COMPLETED)) == 1


def test_cancel_by_the_sender(net, sent, ward, npo) -> None:
    response = _post(f"/api/v1/handoffs/{sent.pk}/cancel/", {"reason": "sent_in_error"}, **ward)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["cancel_reason"] == "sent_in_error"
    assert len(_events(sent, AuditAction.HANDOFF_CANCELLED)) == 1
    assert APIClient().get(f"/api/v1/handoffs/{sent.pk}/", **npo).json()["content"] == {}


def test_an_illegal_transition_is_a_409_and_changes_nothing(net, sent, npo) -> None:
    _post(f"/api/v1/handoffs/{sent.pk}/decline/", {"reason": "no_capacity"}, **npo)
    version = Handoff.objects.get(pk=sent.pk).version

    response = _post(f"/api/v1/handoffs/{sent.pk}/accept/", HTTP_ACCEPT_LANGUAGE="en", **npo)

    body = assert_problem(response, status=409, slug="illegal-transition")
    assert body["title"] == "Illegal transition" and body["current_status"] == "declined"
    assert Handoff.objects.get(pk=sent.pk).version == version


def test_a_stale_if_match_is_a_412_and_changes_nothing(net, sent, npo) -> None:
    """GIVEN the ETag fetched before someone else acknowledged WHEN accepting with it
    THEN 412, no transition, no audit event; with the current ETag it succeeds."""
    stale = APIClient().get(f"/api/v1/handoffs/{sent.pk}/", **npo)["ETag"]
    fresh = _post(f"/api/v1/handoffs/{sent.pk}/acknowledge/", **npo)["ETag"]
    assert stale != fresh

    refused = _post(f"/api/v1/handoffs/{sent.pk}/accept/", HTTP_IF_MATCH=stale, **npo)

    assert_problem(refused, status=412, slug="precondition-failed")
    assert Handoff.objects.get(pk=sent.pk).status == "acknowledged"
    assert _events(sent, AuditAction.HANDOFF_ACCEPTED) == []
    accepted = _post(f"/api/v1/handoffs/{sent.pk}/accept/", HTTP_IF_MATCH=fresh, **npo)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"


def test_a_stale_if_match_on_another_agencys_hop_is_still_404(net, sent, key_for) -> None:
    other = bearer(key_for(net.welfare))
    response = _post(f"/api/v1/handoffs/{sent.pk}/acknowledge/", HTTP_IF_MATCH='"1-0"', **other)
    assert_problem(response, status=404, slug="not-found")


def test_an_idempotency_key_replay_does_not_act_twice(net, sent, npo) -> None:
    """GIVEN an acknowledge sent with an Idempotency-Key WHEN the partner retries it
    THEN the first answer is replayed and the hop is acknowledged once."""
    headers = {"HTTP_IDEMPOTENCY_KEY": "ack-1", **npo}
    first = _post(f"/api/v1/handoffs/{sent.pk}/acknowledge/", {"note": "x"}, **headers)
    again = _post(f"/api/v1/handoffs/{sent.pk}/acknowledge/", {"note": "x"}, **headers)

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and again["ETag"] == first["ETag"]
    assert len(_events(sent, AuditAction.HANDOFF_ACKNOWLEDGED)) == 1
    assert Handoff.objects.get(pk=sent.pk).version == first.json()["version"]

    other_body = _post(f"/api/v1/handoffs/{sent.pk}/acknowledge/", {"note": "y"}, **headers)
    assert_problem(other_body, status=422, slug="idempotency-key-reused")


def test_an_idempotent_create_relays_once(net, npo) -> None:
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    hop = net.send(sheet)
    body = {"sheet": sheet.pk, "to_agency": "guidance", "sections": ["basic"], "purpose": "support"}
    headers = {"HTTP_IDEMPOTENCY_KEY": "relay-1", **npo}
    first = _post("/api/v1/handoffs/", body, **headers)
    again = _post("/api/v1/handoffs/", body, **headers)
    assert first.status_code == again.status_code == 201
    assert again["Location"] == first["Location"]
    assert Handoff.objects.filter(sheet=sheet, from_agency=net.npo).count() == 1
    assert Handoff.objects.get(from_agency=net.npo).parent_id == hop.pk
