"""Reading hops and sheets (audited, only shared sections) and relaying onward under consent."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.etag import body_digest
from audit.models import AuditAction, AuditEvent
from relay import services
from relay.models import Handoff
from tests.api.helpers import assert_problem, bearer

pytestmark = pytest.mark.django_db

RELAY = "/api/v1/handoffs/"


def test_detail_shows_only_the_shared_sections_and_is_audited(net, sent, key_for) -> None:
    """GIVEN a hop sharing basic + consultation of a sheet that also records attendance, home
    and health WHEN the NPO reads it THEN only those two sections, and a view is audited."""
    response = APIClient().get(f"/api/v1/handoffs/{sent.pk}/", **bearer(key_for(net.npo)))

    assert response.status_code == 200
    body = response.json()
    assert set(body["content"]) == {"basic", "consultation"}
    assert body["content"]["basic"]["subject_initials"] == "A.T"
    assert "不眠" not in response.content.decode()  # the health section's text
    assert "母と二人暮らし" not in response.content.decode()  # home
    # The body's etag names the hop's version (for If-Match); the header names this reader's
    # representation too (for If-None-Match), starting with that version.
    assert body["etag"] == f'"{sent.pk}-{sent.version}"'
    assert response["ETag"] == f'"{sent.pk}-{sent.version}.{body_digest(body)}"'
    event = AuditEvent.objects.get(action=AuditAction.HANDOFF_VIEWED)
    assert event.detail["sections_read"] == ["basic", "consultation"]
    assert event.actor_kind == "api_client"


def test_lists_never_carry_the_person(net, sent, key_for) -> None:
    response = APIClient().get("/api/v1/handoffs/", **bearer(key_for(net.npo)))
    text = response.content.decode()
    assert "A.T" not in text and "content" not in response.json()["results"][0]
    assert not AuditEvent.objects.filter(action=AuditAction.HANDOFF_VIEWED).exists()


def test_sheet_shows_the_visible_sections_and_is_audited(net, sent, key_for) -> None:
    npo = APIClient().get(f"/api/v1/sheets/{sent.sheet_id}/", **bearer(key_for(net.npo))).json()
    assert npo["sections"] == ["basic", "consultation"] and set(npo["content"]) == set(
        npo["sections"]
    )
    assert npo["is_owner"] is False and npo["owner_agency"]["slug"] == "ward"
    owner = APIClient().get(f"/api/v1/sheets/{sent.sheet_id}/", **bearer(key_for(net.ward))).json()
    assert owner["is_owner"] is True and "health" in owner["content"]
    assert AuditEvent.objects.filter(action=AuditAction.SHEET_VIEWED).count() == 2


def test_relaying_onward_under_consent_sends_a_child_hop(net, sent, key_for) -> None:
    """GIVEN consent that covers the child guidance center WHEN the NPO relays the sheet on
    THEN 201 with Location, the hop is sent, linked to the hop it came through, and audited."""
    consent = net.consent(sent.sheet, to=[net.npo, net.guidance])
    npo = bearer(key_for(net.npo))

    response = APIClient().post(
        RELAY,
        {
            "sheet": sent.sheet_id,
            "to_agency": net.guidance.pk,
            "sections": ["basic"],
            "purpose": "support",
            "message": "よろしくお願いします",
        },
        format="json",
        **npo,
    )

    assert response.status_code == 201, response.content
    hop = Handoff.objects.get(pk=response.json()["id"])
    assert response["Location"] == f"http://testserver/api/v1/handoffs/{hop.pk}/"
    assert (hop.status, hop.parent_id, hop.from_agency, hop.consent_id) == (
        "sent",
        sent.pk,
        net.npo,
        consent.pk,
    )
    assert response.json()["direction"] == "sent"
    actions = set(
        AuditEvent.objects.filter(object_type="handoff", object_id=str(hop.pk)).values_list(
            "action", flat=True
        )
    )
    assert {AuditAction.HANDOFF_CREATED, AuditAction.HANDOFF_SENT} <= actions
    inbox = APIClient().get("/api/v1/handoffs/", **bearer(key_for(net.guidance))).json()
    assert [h["id"] for h in inbox["results"]] == [hop.pk]


def test_relaying_onward_without_consent_is_422_with_the_reason(net, sent, key_for) -> None:
    """GIVEN consent that names only the NPO WHEN the NPO relays to the guidance center
    THEN 422 consent-does-not-cover, reason recipient-not-covered; nothing is sent and, since
    create and submit are one transaction (issue 10), nothing is left: no draft, no hop id;
    both refusals are audited against the sheet."""
    body = {
        "sheet": sent.sheet_id,
        "to_agency": "guidance",
        "sections": ["basic"],
        "purpose": "support",
    }
    npo = bearer(key_for(net.npo))

    ja = APIClient().post(RELAY, body, format="json", **npo)
    en = APIClient().post(RELAY, body, format="json", HTTP_ACCEPT_LANGUAGE="en", **npo)

    problem = assert_problem(ja, status=422, slug="consent-does-not-cover")
    assert problem["reason"] == "recipient-not-covered" and problem["title"] == "同意の範囲外です"
    assert "同意がありません" in problem["detail"]
    english = assert_problem(en, status=422, slug="consent-does-not-cover")
    assert english["title"] == "Not covered by consent"
    assert english["detail"] == "No consent covers sharing with this agency."
    assert not Handoff.objects.filter(to_agency=net.guidance).exists()
    assert "handoff_id" not in problem and "handoff_id" not in english
    refusals = AuditEvent.objects.filter(action=AuditAction.HANDOFF_SEND_REFUSED)
    assert [(e.object_type, e.recipient_agency_id) for e in refusals] == [
        ("sheet", net.guidance.pk)
    ] * 2


def test_sections_outside_consent_are_named(net, key_for) -> None:
    sheet = net.sheet()
    net.consent(sheet, sections=["basic"])
    body = {
        "sheet": sheet.pk,
        "to_agency": "npo",
        "sections": ["basic", "attendance"],
        "purpose": "support",
    }
    response = APIClient().post(RELAY, body, format="json", **bearer(key_for(net.ward)))
    problem = assert_problem(response, status=422, slug="consent-does-not-cover")
    assert problem["reason"] == "sections-not-covered"
    assert problem["missing_sections"] == ["attendance"]


def test_withdrawn_consent_is_a_422_consent_withdrawn(net, sent, key_for) -> None:
    """GIVEN the guardian withdrew the consent the hop was sent under WHEN the ward desk
    relays the sheet again THEN 422 consent-withdrawn, in English on request."""
    services.consent_withdraw(staff=net.counselor, record_id=sent.consent_id, via="保護者")
    body = {"sheet": sent.sheet_id, "to_agency": "npo", "sections": ["basic"], "purpose": "support"}

    response = APIClient().post(
        RELAY, body, format="json", HTTP_ACCEPT_LANGUAGE="en", **bearer(key_for(net.ward))
    )

    problem = assert_problem(response, status=422, slug="consent-withdrawn")
    assert problem["title"] == "Consent withdrawn" and problem["reason"] == "withdrawn"
    assert problem["detail"] == "The consent has been withdrawn."
    sent.refresh_from_db()
    assert sent.status == "withdrawn"


def test_a_receiver_cannot_pass_on_what_it_cannot_read(net, sent, key_for) -> None:
    net.consent(sent.sheet, to=[net.guidance], sections=["basic", "home"])
    body = {
        "sheet": sent.sheet_id,
        "to_agency": "guidance",
        "sections": ["home"],
        "purpose": "support",
    }
    response = APIClient().post(
        RELAY, body, format="json", HTTP_ACCEPT_LANGUAGE="en", **bearer(key_for(net.npo))
    )
    problem = assert_problem(response, status=400, slug="invalid-input")
    assert problem["errors"][0]["field"] == "sections"
    assert problem["title"] == "Invalid input"


def test_an_unknown_agency_and_bad_vocabulary_are_400(net, sent, key_for) -> None:
    ward = bearer(key_for(net.ward))
    unknown = APIClient().post(
        RELAY,
        {
            "sheet": sent.sheet_id,
            "to_agency": "nowhere",
            "sections": ["basic"],
            "purpose": "support",
        },
        format="json",
        **ward,
    )
    assert (
        assert_problem(unknown, status=400, slug="validation-error")["errors"][0]["field"]
        == "to_agency"
    )
    bad = APIClient().post(
        RELAY,
        {"sheet": sent.sheet_id, "to_agency": "npo", "sections": ["diary"], "purpose": "gossip"},
        format="json",
        **ward,
    )
    fields = {
        e["field"] for e in assert_problem(bad, status=400, slug="validation-error")["errors"]
    }
    assert fields == {"sections.0", "purpose"}


def test_an_agency_that_needs_sign_off_gets_awaiting_approval(net, sent, key_for) -> None:
    net.npo.requires_supervisor_approval = True
    net.npo.save()
    net.consent(sent.sheet, to=[net.guidance], sections=["basic"])
    body = {
        "sheet": sent.sheet_id,
        "to_agency": "guidance",
        "sections": ["basic"],
        "purpose": "support",
    }
    response = APIClient().post(RELAY, body, format="json", **bearer(key_for(net.npo)))
    assert response.status_code == 201 and response.json()["status"] == "awaiting_approval"


def test_english_titles_on_request(net, sent, key_for) -> None:
    other = bearer(key_for(net.welfare))
    en = APIClient().get(f"/api/v1/handoffs/{sent.pk}/", HTTP_ACCEPT_LANGUAGE="en", **other)
    ja = APIClient().get(f"/api/v1/handoffs/{sent.pk}/", **other)
    assert assert_problem(en, status=404, slug="not-found")["title"] == "Not found"
    assert assert_problem(ja, status=404, slug="not-found")["title"] == "見つかりません"


def test_out_of_range_ids_are_client_errors_not_500(net, sent, key_for) -> None:
    ward = bearer(key_for(net.ward))
    huge = "9" * 30
    for body in (
        {"sheet": sent.sheet_id, "to_agency": huge, "sections": ["basic"], "purpose": "support"},
        {"sheet": int(huge), "to_agency": "npo", "sections": ["basic"], "purpose": "support"},
        {"sheet": sent.sheet_id, "to_agency": "١٢", "sections": ["basic"], "purpose": "support"},
    ):
        response = APIClient().post(RELAY, body, format="json", **ward)
        assert_problem(response, status=400, slug="validation-error")
    for path in (f"/api/v1/handoffs/{huge}/", f"/api/v1/sheets/{huge}/"):
        assert_problem(APIClient().get(path, **ward), status=404, slug="not-found")
    response = APIClient().post(f"/api/v1/handoffs/{huge}/acknowledge/", {}, format="json", **ward)
    assert_problem(response, status=404, slug="not-found")
