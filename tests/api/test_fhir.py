"""FHIR R4 export: every hop state and consent kind of the demo validates with fhir.resources
(its R4B models: Task, ServiceRequest, Consent, Organization and HealthcareService are the same
as R4's), a receiver sees in FHIR no section it cannot see in /handoffs/{id}/, and the
endpoints answer like the rest of the API to other agencies, missing scopes and no key."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from rest_framework.test import APIClient

from agencies.models import Agency
from audit.models import AuditAction, AuditEvent
from consent.models import ConsentRecord
from relay import services
from relay.models import Handoff
from relay.states import Status
from tests.api.helpers import assert_problem, bearer
from tests.api.live import load_live_data

pytestmark = pytest.mark.django_db

# R4 value sets (required bindings) the mapping must stay inside.
R4_TASK_STATUS = {
    "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
    "in-progress", "on-hold", "failed", "completed", "entered-in-error",
}
R4_REQUEST_STATUS = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error",
                     "unknown"}
R4_CONSENT_STATUS = {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}
MODELS = {
    "Task": Task,
    "ServiceRequest": ServiceRequest,
    "Consent": Consent,
    "Organization": Organization,
    "HealthcareService": HealthcareService,
}


def _valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource validates against its fhir.resources model; returns it."""
    MODELS[resource["resourceType"]].model_validate(resource)
    return resource


class Keys:
    """One key (every scope) per agency, made on demand."""

    def __init__(self, key_for: Any) -> None:
        self.key_for = key_for
        self.keys: dict[int, str] = {}

    def __call__(self, agency: Agency) -> dict[str, Any]:
        if agency.pk not in self.keys:
            self.keys[agency.pk] = self.key_for(agency)
        return bearer(self.keys[agency.pk])


@pytest.fixture
def demo(settings: Any) -> None:
    """The demo network: hops in every state, consents and a lawful basis."""
    load_live_data(settings, hops=1)


def _sections_in(service_request: dict[str, Any]) -> set[str]:
    contained = {r["id"]: r for r in service_request.get("contained", [])}
    response = contained["shared-sections"]
    return {item["linkId"] for item in response.get("item", [])}


def test_every_demo_hop_maps_to_a_valid_task_and_service_request(demo, key_for) -> None:
    """GIVEN the demo network WHEN each hop is read as Task and ServiceRequest by its sender
    and (once sent) its receiver THEN both validate, every hop state is covered, Task.status is
    R4's, and the receiver's ServiceRequest shares exactly the sections of its detail."""
    client, keys = APIClient(), Keys(key_for)
    seen_states = set()
    for hop in Handoff.objects.select_related("from_agency", "to_agency"):
        readers = [hop.from_agency]
        if hop.sent_at is not None:
            readers.append(hop.to_agency)
        for agency in readers:
            auth = keys(agency)
            task = _valid(client.get(f"/api/v1/fhir/Task/{hop.pk}/", **auth).json())
            assert task["status"] in R4_TASK_STATUS
            assert task["focus"] == {"reference": f"ServiceRequest/{hop.pk}"}
            assert task["owner"]["reference"] == f"Organization/{hop.to_agency.slug}"
            referral = _valid(
                client.get(f"/api/v1/fhir/ServiceRequest/{hop.pk}/", **auth).json()
            )
            assert referral["status"] in R4_REQUEST_STATUS
            detail = client.get(f"/api/v1/handoffs/{hop.pk}/", **auth).json()
            assert _sections_in(referral) == set(detail["content"]), (hop.status, agency.slug)
        seen_states.add(hop.status)
    assert seen_states == set(Status.values)


def test_task_status_follows_the_hop_lifecycle(net, sent, key_for) -> None:
    client = APIClient()
    auth = bearer(key_for(net.npo))
    url = f"/api/v1/fhir/Task/{sent.pk}/"
    assert client.get(url, **auth).json()["status"] == "requested"
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=sent.pk)
    assert client.get(url, **auth).json()["status"] == "received"
    services.handoff_accept(staff=net.npo_intake, handoff_id=sent.pk)
    assert client.get(url, **auth).json()["status"] == "accepted"
    services.handoff_complete(
        staff=net.npo_intake, handoff_id=sent.pk, outcome="support_started"
    )
    task = _valid(client.get(url, **auth).json())
    assert task["status"] == "completed"
    assert task["output"][0]["valueCodeableConcept"]["coding"][0]["code"] == "support_started"


def test_a_receiver_sees_no_section_in_fhir_it_cannot_see_in_the_detail(
    net, sent, key_for
) -> None:
    """GIVEN a hop sharing basic + consultation of a sheet with home and health too WHEN the
    receiver reads the ServiceRequest THEN only those two sections; after a decline THEN none
    (as in the detail), and nothing of the unshared sections' text ever appears."""
    client = APIClient()
    auth = bearer(key_for(net.npo))
    url = f"/api/v1/fhir/ServiceRequest/{sent.pk}/"
    response = client.get(url, **auth)
    assert response["Content-Type"].startswith("application/fhir+json")
    referral = _valid(response.json())
    assert _sections_in(referral) == {"basic", "consultation"}
    text = response.content.decode()
    assert "A.T" in text  # initials, from the basic section
    assert "不眠" not in text and "母と二人暮らし" not in text
    assert AuditEvent.objects.filter(
        action=AuditAction.HANDOFF_VIEWED, object_id=str(sent.pk)
    ).exists()

    services.handoff_decline(staff=net.npo_intake, handoff_id=sent.pk, reason="no_capacity")
    after = client.get(url, **auth)
    assert _sections_in(_valid(after.json())) == set()
    assert client.get(f"/api/v1/handoffs/{sent.pk}/", **auth).json()["content"] == {}
    assert "A.T" not in after.content.decode()


def test_every_demo_consent_maps_to_a_valid_consent_for_its_agency_only(demo, key_for) -> None:
    client, keys = APIClient(), Keys(key_for)
    kinds = set()
    records = list(ConsentRecord.objects.select_related("agency"))
    assert records
    for record in records:
        consent = _valid(
            client.get(f"/api/v1/fhir/Consent/{record.pk}/", **keys(record.agency)).json()
        )
        assert consent["status"] in R4_CONSENT_STATUS
        assert {c["code"] for c in consent["provision"].get("class", [])} == set(record.sections)
        kinds.add((record.basis, record.status))
        other = Agency.objects.exclude(pk=record.agency_id).first()
        refused = client.get(f"/api/v1/fhir/Consent/{record.pk}/", **keys(other))
        assert_problem(refused, status=404, slug="not-found")
    assert len({basis for basis, _status in kinds}) >= 2  # consent and a lawful basis
    assert len({status for _basis, status in kinds}) >= 2  # active and withdrawn


def test_the_directory_maps_to_organizations_and_healthcare_services(demo, key_for) -> None:
    client = APIClient()
    auth = bearer(key_for(Agency.objects.first(), "directory:read"))
    checked = 0
    for agency in Agency.objects.prefetch_related("services"):
        _valid(client.get(f"/api/v1/fhir/Organization/{agency.slug}/", **auth).json())
        for service in agency.services.all():
            resource = _valid(
                client.get(
                    f"/api/v1/fhir/HealthcareService/{agency.slug}.{service.slug}/", **auth
                ).json()
            )
            assert resource["providedBy"]["reference"] == f"Organization/{agency.slug}"
            checked += 1
    assert checked > 0


def test_the_inbox_as_a_bundle_of_tasks(net, sent, key_for) -> None:
    client = APIClient()
    bundle = client.get("/api/v1/fhir/Task/?_count=10", **bearer(key_for(net.npo))).json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(sent.pk)]
    for entry in bundle["entry"]:
        _valid(entry["resource"])
    assert client.get("/api/v1/fhir/Task/", **bearer(key_for(net.guidance))).json()["total"] == 0
    bad = client.get("/api/v1/fhir/Task/?_count=0", **bearer(key_for(net.npo)))
    assert_problem(bad, status=400, slug="validation-error")


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("Task/{hop}/", "handoffs:read"),
        ("ServiceRequest/{hop}/", "handoffs:read"),
        ("Consent/{consent}/", "sheets:read"),
    ],
)
def test_access_matrix_of_the_fhir_reads(net, sent, key_for, path, scope) -> None:
    """own agency: 200; other agency: 404; no key: 401; missing scope: 403; other role (a
    write-only key cannot read): 403. Consent is the recording agency's (the ward) only."""
    client = APIClient()
    url = "/api/v1/fhir/" + path.format(hop=sent.pk, consent=sent.consent_id)
    own = net.ward if path.startswith("Consent") else net.npo
    assert client.get(url, **bearer(key_for(own))).status_code == 200
    assert_problem(client.get(url, **bearer(key_for(net.guidance))), status=404, slug="not-found")
    assert_problem(client.get(url), status=401, slug="not-authenticated")
    assert_problem(
        client.get(url, **bearer(key_for(own, "directory:read"))),
        status=403,
        slug="insufficient-scope",
    )
    if path.startswith("Consent"):
        # The receiver of a hop sent under the record still does not read the record.
        assert_problem(client.get(url, **bearer(key_for(net.npo))), status=404, slug="not-found")


def test_fhir_is_read_only(net, sent, key_for) -> None:
    client = APIClient()
    auth = bearer(key_for(net.npo))
    for method in ("post", "put", "delete", "patch"):
        response = getattr(client, method)(f"/api/v1/fhir/Task/{sent.pk}/", {}, **auth)
        assert_problem(response, status=405, slug="method-not-allowed")
