"""The directory exported as Open Referral HSDS 3.0 and imported back: the same directory."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from agencies.models import Agency, Service
from api.keys import api_key_create
from relay.demo import load_agencies
from tests.factories import AgencyFactory

pytestmark = pytest.mark.django_db

AGENCY_FIELDS = [
    "slug", "name", "name_en", "kind", "prefecture", "municipality", "address", "phone",
    "hours", "description", "website", "age_min", "age_max", "grades", "accepts_referrals",
    "intake_email", "ack_sla_hours", "requires_supervisor_approval", "source",
]
SERVICE_FIELDS = ["slug", "name", "description", "eligibility", "schedule"]


def _snapshot() -> dict[str, Any]:
    """Every agency and service, as comparable plain data (ids left out: they are local)."""
    agencies = {}
    for agency in Agency.objects.prefetch_related("categories", "services__categories"):
        agencies[agency.slug] = {
            **{name: getattr(agency, name) for name in AGENCY_FIELDS},
            "categories": sorted(c.code for c in agency.categories.all()),
            "services": sorted(
                (
                    {
                        **{name: getattr(s, name) for name in SERVICE_FIELDS},
                        "categories": sorted(c.code for c in s.categories.all()),
                    }
                    for s in agency.services.all()
                ),
                key=lambda s: s["slug"],
            ),
        }
    return agencies


def _export(tmp_path: Path, *args: str) -> Path:
    path = tmp_path / "directory.json"
    call_command("export_directory", "--format", "hsds", "--output", str(path), *args,
                 stderr=io.StringIO())
    return path


def test_export_then_import_into_an_empty_directory_gives_the_same_directory(
    tmp_path: Path,
) -> None:
    """GIVEN the demo directory (real agencies and their services) WHEN it is exported as
    HSDS 3.0, the directory emptied, and the file imported with import_agencies THEN every
    agency and service comes back with the same fields and categories."""
    load_agencies()
    before = _snapshot()
    assert len(before) > 5 and any(a["services"] for a in before.values())
    path = _export(tmp_path)

    Service.objects.all().delete()
    Agency.objects.all().delete()
    call_command("import_agencies", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    assert _snapshot() == before


def test_the_export_is_hsds_3_shaped(tmp_path: Path) -> None:
    load_agencies()
    organizations = json.loads(_export(tmp_path).read_text(encoding="utf-8"))
    with_service = next(o for o in organizations if o["services"])
    for key in ("id", "name", "description", "organization_identifiers", "phones", "locations",
                "services", "attributes"):
        assert key in with_service
    location = with_service["locations"][0]
    assert location["location_type"] == "physical" and location["addresses"][0]["country"] == "JP"
    service = with_service["services"][0]
    assert service["status"] == "active" and service["organization_id"] == with_service["id"]
    # HSDS ids are UUIDs, and the same on every export.
    assert len(with_service["id"]) == 36
    assert json.loads(_export(tmp_path).read_text(encoding="utf-8")) == organizations


def test_the_public_export_leaves_out_what_only_this_installation_uses(tmp_path: Path) -> None:
    load_agencies()
    agency = Agency.objects.first()
    agency.intake_email = "intake@example.invalid"
    agency.save(update_fields=["intake_email"])
    text = _export(tmp_path, "--public").read_text(encoding="utf-8")
    assert "intake@example.invalid" not in text
    assert "requires_supervisor_approval" not in text
    assert "intake@example.invalid" in _export(tmp_path).read_text(encoding="utf-8")


def test_the_api_pages_the_directory_as_hsds_without_internal_fields(client_with_key) -> None:
    load_agencies()
    agency = Agency.objects.order_by("slug").first()
    agency.intake_email = "intake@example.invalid"
    agency.save(update_fields=["intake_email"])
    client, auth = client_with_key
    first = client.get("/api/v1/hsds/organizations/?per_page=2", **auth)
    assert first.status_code == 200
    page = first.json()
    assert page["page_number"] == 1 and page["size"] == 2 and page["first_page"] is True
    assert page["total_items"] == Agency.objects.count()
    assert page["contents"][0]["organization_identifiers"][0]["identifier"] == agency.slug
    assert "intake@example.invalid" not in first.content.decode()
    last = client.get(f"/api/v1/hsds/organizations/?per_page=2&page={page['total_pages']}",
                      **auth).json()
    assert last["last_page"] is True and last["size"] >= 1
    bad = client.get("/api/v1/hsds/organizations/?per_page=1000", **auth)
    assert bad.status_code == 400


@pytest.fixture
def client_with_key(system_actor):
    """An API client and a directory:read key of a partner agency."""
    _key, plaintext = api_key_create(
        agency=AgencyFactory(slug="zz-partner"),
        name="hsds",
        scopes=["directory:read"],
        expires_at=None,
        created_by=None,
        actor=system_actor,
    )
    return APIClient(), {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
