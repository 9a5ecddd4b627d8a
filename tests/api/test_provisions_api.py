"""The partner API reads provisions only (issue 10): a receiver's key never sees an edit that
was not sent; updates are versions with a history; notes are in the detail; a second open hop
to the same agency is a 409 unless deliberate."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEvent
from relay import services
from relay.models import Handoff, Provision
from relay.services.consents import consents_expire_due
from tests.api.helpers import assert_problem, bearer

pytestmark = pytest.mark.django_db

BEFORE = "2学期から登校しぶり。朝起きられない日が続いている。"
AFTER = "(送付後に追記)保護者と面談。"


def _edit(net, sheet_id: int) -> None:
    services.sheet_update(
        staff=net.counselor, sheet_id=sheet_id, data={"consultation": AFTER}, reason="追記"
    )


def _get(path: str, key: str, **params):
    return APIClient().get(path, params, **bearer(key))


def test_the_receivers_key_reads_what_was_sent_not_the_edit(net, sent, key_for) -> None:
    npo = key_for(net.npo)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=sent.pk, note="確認しました")
    _edit(net, sent.sheet_id)

    hop = _get(f"/api/v1/handoffs/{sent.pk}/", npo).json()
    sheet = _get(f"/api/v1/sheets/{sent.sheet_id}/", npo).json()

    assert hop["content"]["consultation"]["consultation"] == BEFORE
    assert sheet["content"]["consultation"]["consultation"] == BEFORE
    provision = Provision.objects.get(handoff=sent)
    assert hop["provision"]["version"] == 1
    assert hop["provision"]["content_hash"] == provision.content_hash
    assert [v["version"] for v in hop["versions"]] == [1]
    assert [(n["kind"], n["text"]) for n in hop["notes"]] == [("acknowledge", "確認しました")]
    assert hop["notes"][0]["agency"]["slug"] == "npo" and "note" not in hop


def test_an_update_sent_by_api_is_a_new_version_the_receiver_reads(net, sent, key_for) -> None:
    _edit(net, sent.sheet_id)
    response = APIClient().post(
        f"/api/v1/handoffs/{sent.pk}/send-update/",
        {"note": "面談の結果です"},
        format="json",
        **bearer(key_for(net.ward)),
    )
    assert response.status_code == 200, response.content

    npo = key_for(net.npo)
    hop = _get(f"/api/v1/handoffs/{sent.pk}/", npo).json()
    assert hop["content"]["consultation"]["consultation"] == AFTER
    assert [(v["version"], v["changed_sections"]) for v in hop["versions"]] == [
        (1, []),
        (2, ["consultation"]),
    ]
    old = _get(f"/api/v1/handoffs/{sent.pk}/", npo, version=1).json()
    assert old["content"]["consultation"]["consultation"] == BEFORE
    assert old["provision"]["version"] == 1
    assert_problem(
        _get(f"/api/v1/handoffs/{sent.pk}/", npo, version=9), status=404, slug="not-found"
    )


def test_the_receiver_may_not_send_an_update(net, sent, key_for) -> None:
    response = APIClient().post(
        f"/api/v1/handoffs/{sent.pk}/send-update/", {}, format="json", **bearer(key_for(net.npo))
    )
    assert_problem(response, status=403, slug="not-allowed")


def test_a_second_open_hop_is_409_with_the_open_hops_id(net, sent, key_for) -> None:
    body = {"sheet": sent.sheet_id, "to_agency": "npo", "sections": ["basic"], "purpose": "support"}
    ward = bearer(key_for(net.ward))
    problem = assert_problem(
        APIClient().post("/api/v1/handoffs/", body, format="json", **ward),
        status=409,
        slug="duplicate-handoff",
    )
    assert problem["handoff_id"] == sent.pk
    assert Handoff.objects.count() == 1

    again = APIClient().post(
        "/api/v1/handoffs/", {**body, "deliberate": True}, format="json", **ward
    )
    assert again.status_code == 201, again.content
    created = AuditEvent.objects.get(
        action=AuditAction.HANDOFF_CREATED, object_id=str(again.json()["id"])
    )
    assert created.detail["deliberate"] is True


def test_a_refused_relay_names_no_recipient_and_leaves_no_hop(net, key_for) -> None:
    """GIVEN the guardian refused the basic section to the guidance centre WHEN the NPO,
    which holds the sheet, relays it there THEN 422 without a hop id, the record's id or
    the names the consent speaks of, and no hop exists."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    refusal = net.consent(sheet, to=[net.guidance], sections=["basic"], decision="deny")
    hop = net.send(sheet)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    body = {"sheet": sheet.pk, "to_agency": "guidance", "sections": ["basic"], "purpose": "support"}
    for language in ("ja", "en"):
        response = APIClient().post(
            "/api/v1/handoffs/",
            body,
            format="json",
            HTTP_ACCEPT_LANGUAGE=language,
            **bearer(key_for(net.npo)),
        )
        problem = assert_problem(response, status=422, slug="consent-does-not-cover")
        assert problem["reason"] == "refused" and "handoff_id" not in problem
        text = response.content.decode()
        assert f"#{refusal.pk}" not in problem["detail"] and net.guidance.name not in text
    assert Handoff.objects.filter(to_agency=net.guidance).count() == 0


def test_an_update_the_gate_refuses_is_422_and_the_refusal_stays_on_record(
    net, sent, key_for
) -> None:
    """GIVEN the consent expired after the send WHEN the sender's system sends an update
    THEN 422 with the reason; the receiver keeps version 1; the refusal is audited (the
    If-Match transaction commits it before the problem goes out)."""
    consents_expire_due(now=timezone.now() + timedelta(days=400))
    _edit(net, sent.sheet_id)
    with time_machine.travel(timezone.now() + timedelta(days=400)):
        response = APIClient().post(
            f"/api/v1/handoffs/{sent.pk}/send-update/",
            {},
            format="json",
            **bearer(key_for(net.ward)),
        )
    problem = assert_problem(response, status=422, slug="consent-does-not-cover")
    assert problem["reason"] in {"expired", "not-in-force"}
    assert Provision.objects.filter(handoff=sent).count() == 1
    assert AuditEvent.objects.filter(
        action=AuditAction.HANDOFF_SEND_REFUSED, object_id=str(sent.pk), detail__update=True
    ).exists()
    hop = _get(f"/api/v1/handoffs/{sent.pk}/", key_for(net.npo)).json()
    assert hop["content"]["consultation"]["consultation"] == BEFORE
