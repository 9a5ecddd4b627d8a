"""A routing desk's API: its intake records and routing a received hop, tried as an attacker
would (another agency, no key, revoked key, missing scope), and the Komae routing rules as
problem documents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.keys import api_key_revoke
from api.models import APIKey
from api.scopes import ALL_SCOPES
from audit.models import AuditAction, AuditEvent
from consent.models import ConsentRecord
from relay.models import Handoff, IntakeRecord
from relay.services import desks
from tests.api.helpers import assert_problem, bearer
from tests.factories import AgencyFactory
from tests.fixtures import Network
from tests.komae import ROUTING_SECTIONS, Komae, _to_desk

pytestmark = pytest.mark.django_db


def _intake(komae: Komae) -> IntakeRecord:
    return desks.intake_submit(
        desk=komae.routing,
        asker="school",
        contact_method="phone",
        contact_detail="03-1111-2222",
        situation="欠席が続いている生徒のことで相談したい",
        consent_to_contact=True,
    )


ENDPOINTS: dict[
    str, tuple[str, str, str, Callable[[Network, Komae, Handoff, IntakeRecord], Any]]
] = {
    # name: (method, path, scope, body)
    "intake-list": ("get", "/api/v1/intake-records/", "intake:read", lambda n, k, h, i: {}),
    "intake-retrieve": (
        "get",
        "/api/v1/intake-records/{intake}/",
        "intake:read",
        lambda n, k, h, i: {},
    ),
    "route": (
        "post",
        "/api/v1/handoffs/{hop}/route/",
        "handoffs:write",
        lambda n, k, h, i: {"to_agency": n.npo.slug},
    ),
}
EXPECTED = {
    "own desk": {"intake-list": 200, "intake-retrieve": 200, "route": 201},
    # Another agency: sees no records, no such record, no such hop.
    "other agency": {"intake-list": 200, "intake-retrieve": 404, "route": 404},
    "no key": {"intake-list": 401, "intake-retrieve": 401, "route": 401},
    "revoked key": {"intake-list": 401, "intake-retrieve": 401, "route": 401},
    "missing scope": {"intake-list": 403, "intake-retrieve": 403, "route": 403},
}
SLUGS = {
    401: None,
    403: "insufficient-scope",
    404: "not-found",
}


@pytest.mark.parametrize("case", list(EXPECTED))
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_desk_access_matrix(
    name: str, case: str, net: Network, komae: Komae, key_for, system_actor
) -> None:
    hop = _to_desk(net, komae)
    intake = _intake(komae)
    method, path, scope, body = ENDPOINTS[name]
    headers: dict[str, Any] = {
        "own desk": lambda: bearer(key_for(komae.desk)),
        "other agency": lambda: bearer(key_for(net.welfare)),
        "no key": dict,
        "revoked key": lambda: bearer(key_for(komae.desk)),
        "missing scope": lambda: bearer(key_for(komae.desk, *sorted(ALL_SCOPES - {scope}))),
    }[case]()
    if case == "revoked key":
        api_key_revoke(key=APIKey.objects.get(agency=komae.desk), actor=system_actor)
    url = path.format(hop=hop.pk, intake=intake.pk)
    response = getattr(APIClient(), method)(
        url, body(net, komae, hop, intake), format="json", **headers
    )
    expected = EXPECTED[case][name]
    if expected >= 400 and SLUGS.get(expected):
        assert_problem(response, status=expected, slug=SLUGS[expected])
    else:
        assert response.status_code == expected, response.content
    text = response.content.decode()
    if case != "own desk":
        assert "03-1111-2222" not in text and "欠席が続いて" not in text
        assert not Handoff.objects.filter(parent=hop).exists()
    if name == "intake-list" and case == "other agency":
        assert response.json()["results"] == []


def test_list_has_no_text_and_a_read_is_audited(net: Network, komae: Komae, key_for) -> None:
    intake = _intake(komae)
    client = APIClient()
    headers = bearer(key_for(komae.desk, "intake:read"))
    listed = client.get("/api/v1/intake-records/", **headers)
    assert listed.json()["results"][0]["id"] == intake.pk
    assert "03-1111-2222" not in listed.content.decode()
    one = client.get(f"/api/v1/intake-records/{intake.pk}/", **headers).json()
    assert one["contact_detail"] == "03-1111-2222"
    assert AuditEvent.objects.filter(
        action=AuditAction.INTAKE_VIEWED, object_id=str(intake.pk)
    ).exists()


def test_route_by_api_and_the_refused_kind(net: Network, komae: Komae, key_for) -> None:
    """GIVEN a hop to the desk under consent naming it and {NPO, hikikomori support}; WHEN
    the desk's system routes to child guidance THEN 422 kind-not-routable, nothing created;
    to the NPO THEN 201, a child hop with the routing sections."""
    hop = _to_desk(net, komae)
    client = APIClient()
    headers = bearer(key_for(komae.desk, "handoffs:write", "handoffs:read"))
    refused = client.post(
        f"/api/v1/handoffs/{hop.pk}/route/",
        {"to_agency": net.guidance.slug},
        format="json",
        **headers,
    )
    body = assert_problem(refused, status=422, slug="consent-does-not-cover")
    assert body["reason"] == "kind-not-routable"
    assert not Handoff.objects.filter(parent=hop).exists()

    routed = client.post(
        f"/api/v1/handoffs/{hop.pk}/route/", {"to_agency": net.npo.slug}, format="json", **headers
    )
    assert routed.status_code == 201, routed.content
    child = Handoff.objects.get(parent=hop)
    assert routed.json()["id"] == child.pk and child.sections == ROUTING_SECTIONS
    assert routed["Location"].endswith(f"/api/v1/handoffs/{child.pk}/")


def test_route_by_an_agency_that_is_not_a_desk(net: Network, sent, key_for) -> None:
    """The NPO received a hop, but it is no routing desk: 403."""
    response = APIClient().post(
        f"/api/v1/handoffs/{sent.pk}/route/",
        {"to_agency": net.welfare.slug},
        format="json",
        **bearer(key_for(net.npo)),
    )
    assert_problem(response, status=403, slug="not-allowed")


def test_route_bad_input_names_the_field(net: Network, komae: Komae, key_for) -> None:
    hop = _to_desk(net, komae)
    response = APIClient().post(
        f"/api/v1/handoffs/{hop.pk}/route/",
        {"to_agency": "no-such-agency"},
        format="json",
        **bearer(key_for(komae.desk)),
    )
    body = assert_problem(response, status=400, slug="validation-error")
    assert body["errors"][0]["field"] == "to_agency"


def _fields_at_fault(response: Any) -> list[str]:
    """A 400 problem document (the serializer's validation-error or the service's
    invalid-input), and the fields it names."""
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].rsplit("/", 1)[-1] in ("validation-error", "invalid-input"), body
    return sorted({error["field"] for error in body["errors"]})


def _routing_body(**overrides: Any) -> dict[str, Any]:
    return {
        "grantors": ["guardian"],
        "method": "written",
        "routing_desk": "komae-desk",
        "routing_kinds": ["npo_free_school"],
        "sections": ROUTING_SECTIONS,
        "purposes": ["support"],
        "valid_until": (timezone.now() + timedelta(days=180)).isoformat(),
        "obtained_by": "区の相談員 3",
    } | overrides


def test_a_partner_records_consent_naming_the_desk_and_the_desk_routes_under_it(
    net: Network, komae: Komae, key_for
) -> None:
    """GIVEN the ward's system records, over the API, the family's consent naming the Komae
    desk and one kind (free schools) WHEN the ward sends to the desk and the desk's system
    routes THEN the record shows the desk and the kind, a route to an NPO is 201 with no new
    consent, and a route to child guidance (a kind the desk could route to, but the family
    did not allow) is 422 kind-not-routable."""
    sheet = net.sheet()
    client = APIClient()
    recorded = client.post(
        f"/api/v1/sheets/{sheet.pk}/consents/",
        _routing_body(),
        format="json",
        **bearer(key_for(net.ward)),
    )
    assert recorded.status_code == 201, recorded.content
    assert recorded.json()["routing_desk"] == "komae-desk"
    assert recorded.json()["routing_kinds"] == ["npo_free_school"]
    hop = net.send(sheet, to=komae.desk, sections=ROUTING_SECTIONS)
    desk = bearer(key_for(komae.desk, "handoffs:write", "handoffs:read"))
    refused = client.post(
        f"/api/v1/handoffs/{hop.pk}/route/",
        {"to_agency": net.guidance.slug},
        format="json",
        **desk,
    )
    assert assert_problem(refused, status=422, slug="consent-does-not-cover")["reason"] == (
        "kind-not-routable"
    )
    routed = client.post(
        f"/api/v1/handoffs/{hop.pk}/route/", {"to_agency": net.npo.slug}, format="json", **desk
    )
    assert routed.status_code == 201, routed.content
    assert Handoff.objects.get(parent=hop).to_agency == net.npo


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"routing_desk": "no-such-desk"}, "routing_desk"),
        ({"routing_desk": None}, "routing_desk"),  # kinds without a desk
        ({"routing_kinds": []}, "routing_kinds"),  # a desk without kinds
        ({"routing_kinds": ["welfare_office"]}, "routing_kinds"),  # not one it routes to
        ({"decision": "deny"}, "routing_desk"),  # a refusal names no desk
    ],
)
def test_a_routing_scope_that_does_not_hold_is_a_400_on_its_field(
    net: Network, komae: Komae, key_for, overrides: dict[str, Any], field: str
) -> None:
    sheet = net.sheet()
    AgencyFactory(slug="not-a-desk")
    response = APIClient().post(
        f"/api/v1/sheets/{sheet.pk}/consents/",
        _routing_body(**overrides),
        format="json",
        **bearer(key_for(net.ward)),
    )
    assert _fields_at_fault(response) == [field]
    assert not ConsentRecord.objects.filter(sheet=sheet).exists()


def test_an_agency_that_is_not_a_desk_cannot_be_named_as_one(
    net: Network, komae: Komae, key_for
) -> None:
    sheet = net.sheet()
    response = APIClient().post(
        f"/api/v1/sheets/{sheet.pk}/consents/",
        _routing_body(routing_desk=net.npo.slug),
        format="json",
        **bearer(key_for(net.ward)),
    )
    assert _fields_at_fault(response) == ["routing_desk"]
    assert not ConsentRecord.objects.filter(sheet=sheet).exists()
