"""A partner system records the consent it obtained for a sheet it holds (with the scanned
form), relays onward under it, and records a withdrawal: the Adachi story over the API, the
problem documents of bad input, and the refusals an attacker meets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEvent
from consent.models import ConsentRecord, ConsentStatus
from relay import services
from relay.models import Provision
from relay.states import Status
from tests.adachi import Adachi, build_adachi
from tests.api.helpers import assert_problem, bearer

pytestmark = pytest.mark.django_db

IN_A_YEAR = (timezone.now() + timedelta(days=365)).isoformat()

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def adachi(db) -> Adachi:
    """The Adachi network (tests/adachi.py)."""
    return build_adachi()


@pytest.fixture
def held(adachi: Adachi):
    """The sheet, consented at the ward desk to the center and accepted there: the center
    holds basic, consultation and attendance."""
    sheet = adachi.sheet()
    adachi.ward_consent(sheet)
    first = adachi.first_hop(sheet)
    return sheet, first


def _consent_body(adachi: Adachi, **overrides: Any) -> dict[str, Any]:
    return {
        "grantors": ["person", "guardian"],
        "method": "written",
        "child_assent": "assented",
        "recipients": [adachi.free_school.slug],
        "sections": ["basic", "attendance"],
        "purposes": ["support"],
        "valid_until": IN_A_YEAR,
        "obtained_by": "教育支援センター 相談員12",
        **overrides,
    }


def test_the_center_records_consent_with_the_scan_and_relays_onward(
    adachi: Adachi, held, key_for
) -> None:
    """GIVEN the center's system holds the sheet WHEN it posts the family's consent as
    multipart with the signed form, then relays onward THEN the record is the center's, the
    scan is kept and audited by hash, and the onward hop's provision names the record and the
    center as its recorder."""
    sheet, first = held
    center = bearer(key_for(adachi.center))
    client = APIClient()
    body = _consent_body(adachi)
    body["scanned_form"] = SimpleUploadedFile("同意書.pdf", PDF, content_type="application/pdf")

    response = client.post(
        f"/api/v1/sheets/{sheet.pk}/consents/", body, format="multipart", **center
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["agency"]["slug"] == adachi.center.slug
    assert sorted(data["sections"]) == ["attendance", "basic"]
    assert data["has_scanned_form"] is True and data["recipients"] == [adachi.free_school.slug]
    assert response["Location"].endswith(f"/api/v1/fhir/Consent/{data['id']}/")
    record = ConsentRecord.objects.get(pk=data["id"])
    assert record.agency_id == adachi.center.pk and record.obtained_by_id is None
    assert record.obtained_by_label == "教育支援センター 相談員12"
    upload = AuditEvent.objects.get(
        action=AuditAction.CONSENT_FORM_UPLOADED, object_id=str(record.pk)
    )
    assert upload.detail["content_type"] == "application/pdf" and "同意書" not in str(upload.detail)

    onward = client.post(
        "/api/v1/handoffs/",
        {
            "sheet": sheet.pk,
            "to_agency": adachi.free_school.slug,
            "sections": ["basic", "attendance"],
            "purpose": "support",
        },
        format="json",
        **center,
    )
    assert onward.status_code == 201, onward.content
    assert onward.json()["parent"] == first.pk
    provision = Provision.objects.get(handoff_id=onward.json()["id"])
    assert (provision.consent_id, provision.consent_agency_id) == (record.pk, adachi.center.pk)


def test_json_works_too_and_the_owner_key_cannot_withdraw_the_centers_record(
    adachi: Adachi, held, key_for
) -> None:
    sheet, _first = held
    client = APIClient()
    created = client.post(
        f"/api/v1/sheets/{sheet.pk}/consents/",
        _consent_body(adachi),
        format="json",
        **bearer(key_for(adachi.center)),
    )
    assert created.status_code == 201, created.content
    record_id = created.json()["id"]
    ward_try = client.post(
        f"/api/v1/consents/{record_id}/withdraw/",
        {"via": "x"},
        format="json",
        **bearer(key_for(adachi.ward)),
    )
    assert_problem(ward_try, status=404, slug="not-found")
    assert ConsentRecord.objects.get(pk=record_id).status == ConsentStatus.ACTIVE


def test_withdrawal_by_the_center_stops_its_onward_hop_only(adachi: Adachi, held, key_for) -> None:
    sheet, first = held
    record = adachi.center_consent(sheet)
    onward = adachi.onward_hop(sheet)

    response = APIClient().post(
        f"/api/v1/consents/{record.pk}/withdraw/",
        {"via": "本人から電話で", "reason": "フリースクールには自分で連絡する"},
        format="json",
        **bearer(key_for(adachi.center)),
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "withdrawn"
    assert response.json()["stopped_handoffs"] == [onward.pk]
    first.refresh_from_db()
    onward.refresh_from_db()
    assert (first.status, onward.status) == (Status.ACCEPTED, Status.WITHDRAWN)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sections": ["basic", "health"]}, "sections"),  # health never reached the center
        ({"obtained_by": ""}, "obtained_by"),
        ({"obtained_by": "職員\x07"}, "obtained_by"),
        ({"grantors": ["neighbour"]}, "grantors"),
        ({"valid_until": "2020-01-01T00:00:00+09:00"}, "valid_until"),
        ({"valid_until": "9999-12-31T23:59:59+09:00"}, "valid_until"),
        ({"recipients": [], "recipient_kinds": []}, "recipients"),
        ({"recipients": ["no-such-agency"]}, "recipients"),
        ({"purposes": []}, "purposes"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    adachi: Adachi, held, key_for, overrides, field
) -> None:
    sheet, _first = held
    response = APIClient().post(
        f"/api/v1/sheets/{sheet.pk}/consents/",
        _consent_body(adachi, **overrides),
        format="json",
        **bearer(key_for(adachi.center)),
    )
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    named = {e.get("field", "") for e in response.json()["errors"]}
    assert any(name.split(".")[0].split("[")[0] == field or name == field for name in named), named
    assert not ConsentRecord.objects.filter(agency=adachi.center).exists()


def test_a_scan_that_is_not_what_it_claims_is_refused(adachi: Adachi, held, key_for) -> None:
    sheet, _first = held
    body = _consent_body(adachi)
    body["scanned_form"] = SimpleUploadedFile(
        "form.pdf", b"<html>not a pdf</html>", content_type="application/pdf"
    )
    response = APIClient().post(
        f"/api/v1/sheets/{sheet.pk}/consents/",
        body,
        format="multipart",
        **bearer(key_for(adachi.center)),
    )
    problem = assert_problem(response, status=400, slug="invalid-input")
    assert problem["errors"][0]["field"] == "scanned_form"
    assert not ConsentRecord.objects.filter(agency=adachi.center).exists()


def test_a_holder_whose_hop_was_withdrawn_can_no_longer_record(
    adachi: Adachi, held, key_for
) -> None:
    sheet, first = held
    ward_record = first.consent
    services.consent_withdraw(staff=adachi.ward_counselor, record_id=ward_record.pk, via="保護者")
    response = APIClient().post(
        f"/api/v1/sheets/{sheet.pk}/consents/",
        _consent_body(adachi),
        format="json",
        **bearer(key_for(adachi.center)),
    )
    assert_problem(response, status=404, slug="not-found")


def test_an_agency_not_holding_the_sheet_gets_not_found(adachi: Adachi, held, key_for) -> None:
    sheet, _first = held
    for agency in (adachi.outsider, adachi.free_school):
        response = APIClient().post(
            f"/api/v1/sheets/{sheet.pk}/consents/",
            _consent_body(adachi, recipients=[adachi.center.slug]),
            format="json",
            **bearer(key_for(agency)),
        )
        assert_problem(response, status=404, slug="not-found")


def test_a_viewer_session_of_the_holder_may_not_record(adachi: Adachi, held) -> None:
    """Another role: a viewer of the center, signed in, is refused by the service (403)."""
    sheet, _first = held
    client = APIClient()
    client.force_login(adachi.center_viewer.user)
    response = client.post(
        f"/api/v1/sheets/{sheet.pk}/consents/", _consent_body(adachi), format="json"
    )
    assert_problem(response, status=403, slug="not-allowed")
    assert not ConsentRecord.objects.filter(agency=adachi.center).exists()


def test_an_intake_session_records_the_consent_obtained_at_the_counter(
    adachi: Adachi, held
) -> None:
    sheet, _first = held
    client = APIClient()
    client.force_login(adachi.center_intake.user)
    response = client.post(
        f"/api/v1/sheets/{sheet.pk}/consents/", _consent_body(adachi), format="json"
    )
    assert response.status_code == 201, response.content
    record = ConsentRecord.objects.get(pk=response.json()["id"])
    assert record.obtained_by_id == adachi.center_intake.user_id
