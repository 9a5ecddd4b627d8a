"""The partner API's progress updates: a receiver's system posts, bad input is a problem
document naming the field, the wrong state a 409 with the state, and nothing changes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from agencies.models import AgencyKind
from audit.models import AuditAction, AuditEvent
from relay import services
from relay.models import ProgressUpdate
from tests.api.helpers import assert_problem, bearer

pytestmark = pytest.mark.django_db


def _url(hop) -> str:
    return f"/api/v1/handoffs/{hop.pk}/updates/"


def test_a_receivers_system_posts_and_reads_its_updates(net, sent, key_for) -> None:
    net.npo.kind = AgencyKind.EDUCATION_SUPPORT
    net.npo.save(update_fields=["kind"])
    services.handoff_accept(staff=net.npo_intake, handoff_id=sent.pk)
    client = APIClient()
    npo = bearer(key_for(net.npo, "updates:read", "updates:write"))
    body = {"status": "continuing", "text": "週2回", "attendance": {"month": "2026-01", "days": 8}}

    response = client.post(_url(sent), body, format="json", **npo)

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["attendance"] == {"month": "2026-01", "days": 8}
    assert created["readable"] is True and created["shared_with_sender"] is False
    assert response["Location"].endswith(_url(sent))
    listed = client.get(_url(sent), **npo).json()
    assert [e["id"] for e in listed] == [created["id"]] and listed[0]["text"] == "週2回"
    posted = AuditEvent.objects.get(action=AuditAction.HANDOFF_PROGRESS_POSTED)
    assert posted.actor_kind == "api_client" and posted.detail["progress_id"] == created["id"]


def test_the_wrong_state_is_a_409_with_the_state(net, sent, key_for) -> None:
    response = APIClient().post(
        _url(sent), {"status": "started"}, format="json", **bearer(key_for(net.npo))
    )
    body = assert_problem(response, status=409, slug="illegal-transition")
    assert body["current_status"] == "sent"
    assert ProgressUpdate.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "great"}, "status"),
        ({}, "status"),
        ({"status": "started", "text": 5}, "text"),
        ({"status": "started", "text": "あ" * 2001}, "text"),
        ({"status": "started", "attendance": {"month": "2026-13", "days": 3}}, "attendance"),
        ({"status": "started", "attendance": {"month": "0000-01", "days": 0}}, "attendance"),
        ({"status": "started", "attendance": {"month": "2026-01", "days": 40}}, "attendance"),
        # An NPO is not an education support center: the service's rule, the same field.
        ({"status": "started", "attendance": {"month": "2026-01", "days": 3}}, "attendance"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(net, sent, key_for, body, field) -> None:
    services.handoff_accept(staff=net.npo_intake, handoff_id=sent.pk)
    response = APIClient().post(_url(sent), body, format="json", **bearer(key_for(net.npo)))
    assert response.status_code == 400, response.content
    problem = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert ProgressUpdate.objects.count() == 0


def test_a_viewer_session_reads_but_cannot_post(net, key_for) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    net.consent(sheet, to=[net.ward], sections=["progress"])
    hop = net.send(sheet)
    services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    services.handoff_progress_post(staff=net.npo_intake, handoff_id=hop.pk, status="started")
    client = APIClient()
    client.force_login(net.viewer.user)
    assert client.get(_url(hop)).json()[0]["status"] == "started"
    response = client.post(_url(hop), {"status": "ended"}, format="json")
    assert_problem(response, status=403, slug="not-allowed")


def test_a_retry_with_the_same_idempotency_key_posts_once(net, sent, key_for) -> None:
    services.handoff_accept(staff=net.npo_intake, handoff_id=sent.pk)
    client = APIClient()
    npo = {**bearer(key_for(net.npo)), "HTTP_IDEMPOTENCY_KEY": "progress-2026-11"}
    first = client.post(_url(sent), {"status": "started"}, format="json", **npo)
    again = client.post(_url(sent), {"status": "started"}, format="json", **npo)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert ProgressUpdate.objects.count() == 1
