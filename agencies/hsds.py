"""The directory in Open Referral HSDS 3.0 shape, and back.

`export_organizations` writes each agency as an HSDS 3.0 organization with its services,
location (address and the agency's hours as a schedule), phones and the schedules of its
services; Tsunagu's own vocabulary travels in HSDS `attributes` (taxonomy terms of the
tsunagu-* taxonomies) and the agency's slug in `organization_identifiers`. HSDS ids are UUIDs,
derived from the slugs, so that an export is the same every time.

`flatten_organization` turns such an organization back into the row agencies/importing.py
validates, so that export -> import into an empty directory gives the same agencies and
services (tests/agencies/test_hsds.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings

from agencies.models import Agency, Service

HSDS_VERSION = "3.0"
SLUG_SCHEME = "tsunagu-slug"
KIND_TAXONOMY = "tsunagu-agency-kind"
CATEGORY_TAXONOMY = "tsunagu-category"
SERVICE_SLUG_TAXONOMY = "tsunagu-service-slug"
SETTING_TAXONOMY = "tsunagu-setting"
# A program's eligibility beyond HSDS's ages: grades, residence, the child's wish, the school.
ELIGIBILITY_TAXONOMY = "tsunagu-eligibility"
ELIGIBILITY_LISTS = ("grades", "municipalities")
ELIGIBILITY_FLAGS = ("requires_child_wish", "apply_through_school")
# Agency fields that only a Tsunagu installation uses, exported by the operator's command
# (for a round trip) and not by the partner API.
INTERNAL_SETTINGS = ("ack_sla_hours", "requires_supervisor_approval", "accepts_referrals")
PUBLIC_SETTINGS = ("accepts_referrals", "ack_sla_hours", "age_min", "age_max", "grades", "source")


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join((settings.SITE_URL, *parts))))


def _attribute(link_id: str, link_type: str, taxonomy: str, code: str, value: str = "") -> dict:
    return {
        "id": _uuid("attribute", link_id, taxonomy, code),
        "link_id": link_id,
        "link_type": link_type,
        "link_entity": link_type,
        "value": value or None,
        "taxonomy_term": {
            "id": _uuid("taxonomy_term", taxonomy, code),
            "code": code,
            "name": code,
            "taxonomy": taxonomy,
        },
    }


def _service(agency: Agency, org_id: str, service: Service) -> dict[str, Any]:
    service_id = _uuid("service", agency.slug, service.slug)
    schedules = []
    if service.schedule:
        schedules.append(
            {
                "id": _uuid("schedule", agency.slug, service.slug),
                "service_id": service_id,
                "description": service.schedule,
                "timezone": None,
            }
        )
    attributes = [_attribute(service_id, "service", SERVICE_SLUG_TAXONOMY, service.slug)]
    attributes += [
        _attribute(service_id, "service", CATEGORY_TAXONOMY, c.code)
        for c in sorted(service.categories.all(), key=lambda c: c.code)
    ]
    for name in ELIGIBILITY_LISTS:
        values = getattr(service, name)
        if values:
            attributes.append(
                _attribute(service_id, "service", ELIGIBILITY_TAXONOMY, name, ",".join(values))
            )
    for name in ELIGIBILITY_FLAGS:
        if getattr(service, name):
            attributes.append(_attribute(service_id, "service", ELIGIBILITY_TAXONOMY, name, "true"))
    return {
        "id": service_id,
        "organization_id": org_id,
        "name": service.name,
        "description": service.description or None,
        "eligibility_description": service.eligibility or None,
        "minimum_age": service.age_min,
        "maximum_age": service.age_max,
        "status": "active" if service.active else "inactive",
        "schedules": schedules,
        "phones": [],
        "attributes": attributes,
    }


def _setting_value(agency: Agency, name: str) -> str:
    value = getattr(agency, name)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def export_organization(agency: Agency, *, include_internal: bool) -> dict[str, Any]:
    """One agency as an HSDS 3.0 organization (services, location, phones, schedules)."""
    org_id = _uuid("organization", agency.slug)
    location_id = _uuid("location", agency.slug)
    phones = []
    if agency.phone:
        phones.append(
            {
                "id": _uuid("phone", agency.slug),
                "organization_id": org_id,
                "number": agency.phone,
                "type": "voice",
                "languages": [],
            }
        )
    location_schedules = []
    if agency.hours:
        location_schedules.append(
            {
                "id": _uuid("schedule", agency.slug),
                "location_id": location_id,
                "description": agency.hours,
            }
        )
    attributes = [_attribute(org_id, "organization", KIND_TAXONOMY, agency.kind)]
    attributes += [
        _attribute(org_id, "organization", CATEGORY_TAXONOMY, c.code)
        for c in sorted(agency.categories.all(), key=lambda c: c.code)
    ]
    settings_names = dict.fromkeys(
        (*PUBLIC_SETTINGS, *(INTERNAL_SETTINGS if include_internal else ()))
    )
    for name in settings_names:
        value = _setting_value(agency, name)
        if value:
            attributes.append(_attribute(org_id, "organization", SETTING_TAXONOMY, name, value))
    return {
        "id": org_id,
        "name": agency.name,
        "alternate_name": agency.name_en or None,
        "description": agency.description or "",
        "email": (agency.intake_email or None) if include_internal else None,
        "website": agency.website or None,
        "organization_identifiers": [
            {
                "id": _uuid("identifier", agency.slug),
                "organization_id": org_id,
                "identifier_scheme": None,
                "identifier_type": SLUG_SCHEME,
                "identifier": agency.slug,
            }
        ],
        "phones": phones,
        "locations": [
            {
                "id": location_id,
                "organization_id": org_id,
                "location_type": "physical",
                "name": agency.name,
                "addresses": [
                    {
                        "id": _uuid("address", agency.slug),
                        "location_id": location_id,
                        "address_1": agency.address or "",
                        "city": agency.municipality,
                        "state_province": agency.prefecture or "",
                        "postal_code": "",
                        "country": "JP",
                        "address_type": "physical",
                    }
                ],
                "schedules": location_schedules,
                "phones": [],
            }
        ],
        "services": [
            _service(agency, org_id, s) for s in sorted(agency.services.all(), key=lambda s: s.slug)
        ],
        "attributes": attributes,
        "metadata": [],
    }


def export_organizations(
    agencies: Iterable[Agency], *, include_internal: bool
) -> list[dict[str, Any]]:
    """Every agency as an HSDS 3.0 organization, in slug order."""
    return [export_organization(a, include_internal=include_internal) for a in agencies]


def directory_queryset() -> Any:
    return Agency.objects.prefetch_related("categories", "services__categories").order_by("slug")


def is_hsds_organization(raw: Any) -> bool:
    """An HSDS 3.0 organization object (nested), rather than one of our flat rows."""
    return isinstance(raw, dict) and (
        isinstance(raw.get("organization_identifiers"), list)
        or isinstance(raw.get("locations"), list)
    )


def _terms(attributes: Any, taxonomy: str) -> list[dict[str, Any]]:
    found = []
    for attribute in attributes or []:
        term = (attribute or {}).get("taxonomy_term") or {}
        if term.get("taxonomy") == taxonomy:
            found.append({"code": term.get("code"), "value": attribute.get("value")})
    return found


def flatten_organization(org: dict[str, Any]) -> dict[str, Any]:
    """The importer's row for an HSDS 3.0 organization (our column names)."""
    attributes = org.get("attributes")
    slug = next(
        (
            i.get("identifier")
            for i in org.get("organization_identifiers") or []
            if i.get("identifier_type") == SLUG_SCHEME
        ),
        None,
    )
    location = (org.get("locations") or [{}])[0] or {}
    address = (location.get("addresses") or [{}])[0] or {}
    hours = next((s.get("description") for s in location.get("schedules") or []), None)
    phone = next((p.get("number") for p in org.get("phones") or []), None)
    kinds = _terms(attributes, KIND_TAXONOMY)
    row: dict[str, Any] = {
        "slug": slug,
        "name": org.get("name"),
        "name_en": org.get("alternate_name"),
        "kind": kinds[0]["code"] if kinds else None,
        "prefecture": address.get("state_province"),
        "municipality": address.get("city"),
        "address": address.get("address_1"),
        "phone": phone,
        "hours": hours,
        "description": org.get("description"),
        "website": org.get("website"),
        "intake_email": org.get("email"),
        "categories": [t["code"] for t in _terms(attributes, CATEGORY_TAXONOMY)],
        "services": [_flatten_service(s) for s in org.get("services") or []],
    }
    for term in _terms(attributes, SETTING_TAXONOMY):
        if term["code"] in (*PUBLIC_SETTINGS, *INTERNAL_SETTINGS):
            row[term["code"]] = term["value"]
    return row


def _flatten_service(service: dict[str, Any]) -> dict[str, Any]:
    attributes = service.get("attributes")
    slugs = _terms(attributes, SERVICE_SLUG_TAXONOMY)
    schedule = next((s.get("description") for s in service.get("schedules") or []), None)
    flat = {
        "name": service.get("name") or "",
        "description": service.get("description") or "",
        "eligibility": service.get("eligibility_description") or "",
        "schedule": schedule or "",
        "categories": [t["code"] for t in _terms(attributes, CATEGORY_TAXONOMY)],
        "age_min": service.get("minimum_age"),
        "age_max": service.get("maximum_age"),
        "active": service.get("status", "active") != "inactive",
    }
    rules = {t["code"]: t["value"] or "" for t in _terms(attributes, ELIGIBILITY_TAXONOMY)}
    for name in ELIGIBILITY_LISTS:
        flat[name] = [v for v in rules.get(name, "").split(",") if v]
    for name in ELIGIBILITY_FLAGS:
        flat[name] = rules.get(name) == "true"
    if slugs:
        flat["slug"] = slugs[0]["code"]
    return flat
