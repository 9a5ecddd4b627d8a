"""The API targets a program (`service` by id or slug) and answers an eligibility mismatch
with 422 `eligibility-mismatch` unless `eligibility_override_reason` says why; programs are
listed in the directory with their eligibility. Attacks: another agency's program id, a
guardian-only consent for an adult."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import Service
from audit.models import AuditAction, AuditEvent
from consent.vocabulary import Purpose
from relay import services
from relay.models import Handoff, HandoffNote, NoteKind
from tests.api.helpers import assert_problem, bearer

pytestmark = pytest.mark.django_db

RELAY = "/api/v1/handoffs/"


def _consent(net, sheet, grantors=("guardian", "person")) -> None:
    services.consent_record(
        staff=net.counselor,
        sheet_id=sheet.pk,
        grantors=list(grantors),
        method="written",
        recipients=[net.npo, net.welfare],
        sections=["basic", "consultation"],
        purposes=[Purpose.SUPPORT],
        valid_until=timezone.now() + timedelta(days=90),
    )


def _body(sheet, **extra):
    return {
        "sheet": sheet.pk,
        "to_agency": "npo",
        "sections": ["basic", "consultation"],
        "purpose": "support",
        **extra,
    }


def _post(key, body):
    return APIClient().post(RELAY, body, format="json", **bearer(key))


@pytest.fixture
def program(net) -> Service:
    return Service.objects.create(
        agency=net.npo,
        slug="home-visit",
        name="訪問型学習支援",
        grades=["j1", "j2", "j3"],
        municipalities=["足立区"],
        apply_through_school=True,
    )


@pytest.mark.parametrize("by", ["slug", "id"])
def test_create_names_a_program_by_slug_or_id_and_shows_it(net, key_for, program, by) -> None:
    sheet = net.sheet(municipality="足立区")
    _consent(net, sheet)
    ward = key_for(net.ward)
    ref = program.slug if by == "slug" else program.pk
    response = _post(ward, _body(sheet, service=ref))
    assert response.status_code == 201, response.content
    expected = {"id": program.pk, "slug": "home-visit", "name": "訪問型学習支援"}
    assert response.json()["service"] == expected
    hop_id = response.json()["id"]
    detail = APIClient().get(f"{RELAY}{hop_id}/", **bearer(key_for(net.npo))).json()
    assert detail["service"] == expected and detail["eligibility_overridden"] == []
    inbox = APIClient().get(RELAY, **bearer(key_for(net.npo))).json()["results"]
    assert [row["service"] for row in inbox] == [expected]


def test_another_agencys_program_id_is_a_400_on_service_and_nothing_is_created(
    net, key_for
) -> None:
    """GIVEN a program of the welfare office WHEN the ward posts a hop to the NPO naming its id
    THEN a problem document naming `service`, no hop and no hop event: the id's owner is not
    revealed (the same answer as for an id that does not exist)."""
    other = Service.objects.create(agency=net.welfare, slug="welfare-desk", name="相談")
    sheet = net.sheet()
    _consent(net, sheet)
    ward = key_for(net.ward)
    answers = []
    for ref in (other.pk, other.slug, 999_999):
        body = assert_problem(
            _post(ward, _body(sheet, service=ref)), status=400, slug="validation-error"
        )
        answers.append(body["errors"])
        assert [e["field"] for e in body["errors"]] == ["service"]
    assert answers[0] == answers[2]
    assert not Handoff.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.HANDOFF_CREATED).exists()


def test_a_mismatch_is_422_listing_the_fields_and_nothing_is_created(net, key_for) -> None:
    """The 33-year-old sent to an agency serving 0-18: 422 eligibility-mismatch, field age."""
    net.npo.age_min, net.npo.age_max = 0, 18
    net.npo.save()
    sheet = net.sheet(birth_year=timezone.localdate().year - 33, grade="not_in_school")
    _consent(net, sheet)
    body = assert_problem(
        _post(key_for(net.ward), _body(sheet)), status=422, slug="eligibility-mismatch"
    )
    assert [(m["field"], m["code"]) for m in body["mismatches"]] == [("age", "age-out-of-range")]
    assert "0〜18歳" in body["mismatches"][0]["message"]
    assert not Handoff.objects.exists()


def test_with_a_reason_the_mismatch_is_sent_and_audited(net, key_for, program) -> None:
    sheet = net.sheet(grade="h2", municipality="葛飾区")
    _consent(net, sheet)
    reason = "高校進学後も継続支援の相談をしたい"
    response = _post(
        key_for(net.ward),
        _body(sheet, service="home-visit", eligibility_override_reason=reason),
    )
    assert response.status_code == 201, response.content
    hop = Handoff.objects.get(pk=response.json()["id"])
    overridden = [
        {"field": "grade", "code": "grade-not-served"},
        {"field": "municipality", "code": "municipality-not-served"},
    ]
    assert hop.eligibility_overridden == overridden
    note = HandoffNote.objects.get(handoff=hop, kind=NoteKind.ELIGIBILITY)
    created = AuditEvent.objects.get(action=AuditAction.HANDOFF_CREATED, object_id=str(hop.pk))
    assert created.detail["eligibility_overridden"] == overridden
    assert created.detail["eligibility_note_id"] == note.pk
    detail = APIClient().get(f"{RELAY}{hop.pk}/", **bearer(key_for(net.npo))).json()
    assert detail["eligibility_overridden"] == overridden
    assert [n["text"] for n in detail["notes"] if n["kind"] == "eligibility"] == [reason]


def test_a_guardian_only_consent_for_an_adult_is_422_with_its_reason(net, key_for) -> None:
    sheet = net.sheet(grade="")
    _consent(net, sheet, grantors=["guardian"])
    services.sheet_update(
        staff=net.counselor,
        sheet_id=sheet.pk,
        data={"birth_year": timezone.localdate().year - 20},
        reason="生まれ年を確認",
    )
    body = assert_problem(
        _post(key_for(net.ward), _body(sheet)), status=422, slug="consent-does-not-cover"
    )
    assert body["reason"] == "adult-needs-own-consent"
    assert not Handoff.objects.exists()


def test_the_directory_lists_programs_with_their_eligibility(net, key_for, program) -> None:
    Service.objects.create(agency=net.welfare, slug="closed", name="休止中", active=False)
    key = key_for(net.guidance, "directory:read")
    rows = APIClient().get("/api/v1/services/", **bearer(key)).json()["results"]
    mine = next(r for r in rows if r["slug"] == "home-visit")
    assert mine["agency"] == "npo" and mine["id"] == program.pk
    assert mine["grades"] == ["j1", "j2", "j3"] and mine["municipalities"] == ["足立区"]
    assert mine["apply_through_school"] is True and mine["requires_child_wish"] is False
    assert (mine["age_min"], mine["age_max"], mine["active"]) == (None, None, True)
    only_active = APIClient().get("/api/v1/services/?active=true", **bearer(key)).json()
    assert "closed" not in {r["slug"] for r in only_active["results"]}
    by_agency = APIClient().get("/api/v1/services/?agency=welfare", **bearer(key)).json()
    assert [r["slug"] for r in by_agency["results"]] == ["closed"]
    detail = APIClient().get("/api/v1/agencies/npo/", **bearer(key)).json()
    assert detail["services"][0]["municipalities"] == ["足立区"]
