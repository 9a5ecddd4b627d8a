"""Reading agency directories (our JSON fixture, CSV, an Open Referral HSDS flat export, or
HSDS 3.0 organizations as agencies/hsds.py exports them).

Every row is validated before anything is written; a file with a bad row imports nothing
unless the caller asks to skip invalid rows. Rows are upserted by slug, so re-importing the
same file changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify

from agencies import hsds
from agencies.categories import CATEGORIES, CATEGORY_CODES
from agencies.models import Agency, AgencyKind, Category, Service

# Our field <- accepted column names, ours first, then Open Referral HSDS names
# (organization, service, location, phone, schedule) as they appear in flat exports.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "slug": ("slug", "id", "organization_id", "organization.id"),
    "name": ("name", "organization", "organization_name", "organization.name"),
    "name_en": ("name_en", "alternate_name", "organization.alternate_name"),
    "kind": ("kind", "organization_type", "type"),
    "prefecture": ("prefecture", "state_province", "region", "location.state_province"),
    "municipality": ("municipality", "city", "locality", "location.city"),
    "address": ("address", "location", "address_1", "location.address_1", "physical_address"),
    "phone": ("phone", "phone_number", "phone.number"),
    "hours": ("hours", "schedule", "regular_schedule", "schedule.description"),
    "description": ("description", "organization.description"),
    "website": ("website", "url", "organization.website"),
    "categories": ("categories", "taxonomy", "service_taxonomy"),
    "age_min": ("age_min", "minimum_age", "eligibility.minimum_age"),
    "age_max": ("age_max", "maximum_age", "eligibility.maximum_age"),
    "grades": ("grades",),
    "accepts_referrals": ("accepts_referrals",),
    "intake_email": ("intake_email", "email", "organization.email"),
    "ack_sla_hours": ("ack_sla_hours",),
    "requires_supervisor_approval": ("requires_supervisor_approval",),
    "source": ("source",),
    "service": ("service", "service_name", "service.name"),
    "services": ("services",),
}
REQUIRED = ("name", "kind", "municipality")
_TRUE = {"1", "true", "yes", "y", "はい", "可"}
_FALSE = {"0", "false", "no", "n", "いいえ", "不可", ""}
_PHONE = re.compile(r"^[0-9０-９()（）\-‐－ +]{6,40}$")


@dataclass
class RowError:
    """Why a row of the file cannot be imported."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


@dataclass
class AgencyRecord:
    """One validated agency, with the services gathered from its rows."""

    slug: str
    fields: dict[str, Any]
    categories: list[str]
    services: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    services: int = 0
    skipped_rows: int = 0
    errors: list[RowError] = field(default_factory=list)


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a .csv (UTF-8, with or without BOM) or .json (a list of objects) file."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):  # {"organizations": [...]} or {"agencies": [...]}
            data = data.get("agencies") or data.get("organizations") or []
        if not isinstance(data, list):
            raise ValueError("JSON must be a list of agency objects")
        for item in data:
            yield hsds.flatten_organization(item) if hsds.is_hsds_organization(item) else item
    elif suffix in {".csv", ".tsv"}:
        text = path.read_text(encoding="utf-8-sig")
        yield from csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
    else:
        raise ValueError(f"unsupported file type {suffix!r}: use .csv, .tsv or .json")


def _pick(raw: dict[str, Any], name: str) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
    for alias in COLUMN_ALIASES[name]:
        if alias in lowered and lowered[alias] not in (None, ""):
            value = lowered[alias]
            return value.strip() if isinstance(value, str) else value
    return None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in re.split(r"[;；|、,]", str(value)) if part.strip()]


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def _as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    number = int(str(value).strip())
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _derive_slug(name: str, municipality: str) -> str:
    ascii_slug = slugify(name)
    if ascii_slug:
        return ascii_slug[:80]
    digest = hashlib.sha1(f"{municipality}|{name}".encode(), usedforsecurity=False).hexdigest()
    return f"org-{digest[:12]}"


def _service_from(value: Any, index: int) -> dict[str, Any]:
    if isinstance(value, dict):
        name = str(value.get("name", "")).strip()
        if not name:
            raise ValueError("a service needs a name")
        return {
            "slug": str(value.get("slug") or _derive_slug(name, str(index))),
            "name": name,
            "description": str(value.get("description", "")),
            "eligibility": str(value.get("eligibility", "")),
            "schedule": str(value.get("schedule", "")),
            "categories": _as_list(value.get("categories")),
        }
    name = str(value).strip()
    return {
        "slug": _derive_slug(name, str(index)),
        "name": name,
        "description": "",
        "eligibility": "",
        "schedule": "",
        "categories": [],
    }


def validate_row(raw: dict[str, Any], row_no: int) -> tuple[AgencyRecord | None, list[RowError]]:
    """Validate one row; return the record, or the errors naming each bad field."""
    errors: list[RowError] = []

    def fail(field_name: str, reason: str) -> None:
        errors.append(RowError(row_no, field_name, reason))

    if not isinstance(raw, dict):
        return None, [RowError(row_no, "-", "not an object")]
    values = {name: _pick(raw, name) for name in COLUMN_ALIASES}
    for name in REQUIRED:
        if not values[name]:
            fail(name, "required")
    kind = values["kind"]
    if kind and kind not in AgencyKind.values:
        label_to_kind = {str(label): value for value, label in AgencyKind.choices}
        if kind in label_to_kind:
            kind = label_to_kind[kind]
        else:
            fail("kind", f"unknown kind {kind!r}; expected one of {', '.join(AgencyKind.values)}")
    categories = _as_list(values["categories"])
    unknown = [c for c in categories if c not in CATEGORY_CODES]
    if unknown:
        fail("categories", f"unknown categories {unknown}")
    ints: dict[str, int | None] = {}
    for name in ("age_min", "age_max", "ack_sla_hours"):
        try:
            ints[name] = _as_int(values[name])
        except ValueError as exc:
            fail(name, f"not a whole number ({exc})")
    if (
        ints.get("age_min") is not None
        and ints.get("age_max") is not None
        and ints["age_min"] > ints["age_max"]  # type: ignore[operator]
    ):
        fail("age_min", "greater than age_max")
    bools: dict[str, bool] = {}
    for name, default in (("accepts_referrals", True), ("requires_supervisor_approval", True)):
        try:
            bools[name] = _as_bool(values[name], default)
        except ValueError as exc:
            fail(name, str(exc))
    email = values["intake_email"] or ""
    if email:
        try:
            validate_email(email)
        except ValidationError:
            fail("intake_email", f"not an e-mail address: {email!r}")
    phone = values["phone"] or ""
    if phone and not _PHONE.match(str(phone)):
        fail("phone", f"not a phone number: {phone!r}")
    services: list[dict[str, Any]] = []
    try:
        service_values = (
            list(values["services"] or [])
            if isinstance(values["services"], list)
            else _as_list(values["services"])
        )
        if values["service"]:
            service_values.append(values["service"])
        services = [_service_from(v, i) for i, v in enumerate(service_values)]
        for service in services:
            bad = [c for c in service["categories"] if c not in CATEGORY_CODES]
            if bad:
                fail("services", f"service {service['slug']!r}: unknown categories {bad}")
    except ValueError as exc:
        fail("services", str(exc))
    slug = str(values["slug"] or "") or _derive_slug(
        values["name"] or "", values["municipality"] or ""
    )
    if slug != slugify(slug):
        fail("slug", f"must be lowercase letters, digits and hyphens: {slug!r}")
    if errors:
        return None, errors
    record_fields = {
        "name": values["name"],
        "name_en": values["name_en"] or "",
        "kind": kind,
        "prefecture": values["prefecture"] or "",
        "municipality": values["municipality"],
        "address": values["address"] or "",
        "phone": phone,
        "hours": values["hours"] or "",
        "description": values["description"] or "",
        "website": values["website"] or "",
        "age_min": ints["age_min"],
        "age_max": ints["age_max"],
        "grades": values["grades"] or "",
        "accepts_referrals": bools["accepts_referrals"],
        "intake_email": email,
        "requires_supervisor_approval": bools["requires_supervisor_approval"],
        "source": values["source"] or "",
    }
    if ints["ack_sla_hours"] is not None:
        record_fields["ack_sla_hours"] = ints["ack_sla_hours"]
    return AgencyRecord(slug, record_fields, categories, services, [row_no]), []


def validate_rows(
    rows: Iterable[dict[str, Any]], progress: Callable[[int], None] | None = None
) -> tuple[list[AgencyRecord], list[RowError], int]:
    """Validate every row; rows of one slug merge (an HSDS export lists one service a row)."""
    records: dict[str, AgencyRecord] = {}
    errors: list[RowError] = []
    bad_rows = 0
    for row_no, raw in enumerate(rows, start=1):
        record, row_errors = validate_row(raw, row_no)
        if progress:
            progress(row_no)
        if record is None:
            errors.extend(row_errors)
            bad_rows += 1
            continue
        existing = records.get(record.slug)
        if existing is None:
            records[record.slug] = record
        else:
            existing.services.extend(record.services)
            existing.categories = sorted(set(existing.categories) | set(record.categories))
            existing.rows.append(row_no)
    return list(records.values()), errors, bad_rows


def ensure_categories() -> dict[str, Category]:
    """The category vocabulary, created if missing (a data migration creates it too, but a
    flushed database, as between transactional tests, has lost it)."""
    existing = {c.code: c for c in Category.objects.all()}
    for code, label_ja, label_en in CATEGORIES:
        if code not in existing:
            existing[code] = Category.objects.create(
                code=code, label_ja=label_ja, label_en=label_en
            )
    return existing


@transaction.atomic
def apply_records(records: list[AgencyRecord]) -> ImportResult:
    """Upsert validated records by slug, with their categories and services."""
    result = ImportResult()
    categories = ensure_categories()
    for record in records:
        agency = Agency.objects.filter(slug=record.slug).first()
        if agency is None:
            agency = Agency(slug=record.slug, **record.fields)
            agency.save()
            result.created += 1
        else:
            for name, value in record.fields.items():
                setattr(agency, name, value)
            agency.save()
            result.updated += 1
        agency.categories.set([categories[c] for c in record.categories])
        for spec in record.services:
            service, _created = Service.objects.update_or_create(
                agency=agency,
                slug=spec["slug"],
                defaults={k: spec[k] for k in ("name", "description", "eligibility", "schedule")},
            )
            service.categories.set([categories[c] for c in spec["categories"]])
            result.services += 1
    return result


def import_file(
    path: Path, *, skip_invalid: bool = False, progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Validate the whole file, then import it all, or nothing if a row is bad."""
    records, errors, bad_rows = validate_rows(read_rows(path), progress)
    if errors and not skip_invalid:
        return ImportResult(errors=errors)
    result = apply_records(records)
    result.errors = errors
    result.skipped_rows = bad_rows
    return result
