"""Validating directory rows: our columns or Open Referral HSDS names, the model's own field
rules, and the importer's (NUL characters, text lengths); every problem a row/field/reason."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import validate_email
from django.db.models import Field
from django.utils.text import slugify

from agencies.categories import CATEGORY_CODES
from agencies.import_records import AgencyRecord, RowError
from agencies.models import Agency, AgencyKind, Service
from security.validators import ControlCharacterValidator

# Text columns without a max_length in the model still have one here: a directory entry's
# description is a paragraph, not a 200,000-character cell.
TEXT_MAX_CHARACTERS = 10_000

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
_KINDS = frozenset(AgencyKind.values)
_MODEL_FIELDS = {f.name: f for f in Agency._meta.concrete_fields}
_TRUE = {"1", "true", "yes", "y", "はい", "可"}
_FALSE = {"0", "false", "no", "n", "いいえ", "不可", ""}
_PHONE = re.compile(r"^[0-9０-９()（）\-‐－ +]{6,40}$")


def _pick(lowered: dict[str, Any], name: str) -> Any:
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
            "age_min": _as_int(value.get("age_min")),
            "age_max": _as_int(value.get("age_max")),
            "grades": _as_list(value.get("grades")),
            "municipalities": _as_list(value.get("municipalities")),
            "requires_child_wish": _as_bool(value.get("requires_child_wish"), False),
            "apply_through_school": _as_bool(value.get("apply_through_school"), False),
            "active": _as_bool(value.get("active"), True),
        }
    name = str(value).strip()
    return {
        "slug": _derive_slug(name, str(index)),
        "name": name,
        "description": "",
        "eligibility": "",
        "schedule": "",
        "categories": [],
        **SERVICE_ELIGIBILITY_DEFAULTS,
    }


# A service named by text alone serves anyone, and takes people.
SERVICE_ELIGIBILITY_DEFAULTS: dict[str, Any] = {
    "age_min": None,
    "age_max": None,
    "grades": [],
    "municipalities": [],
    "requires_child_wish": False,
    "apply_through_school": False,
    "active": True,
}


def _service_eligibility_problem(service: dict[str, Any]) -> str:
    """The model's own rules for a program's eligibility (Service.clean), as one message."""
    try:
        Service(**{k: service[k] for k in SERVICE_ELIGIBILITY_DEFAULTS}).clean()
    except ValidationError as exc:
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return ""


def validate_row(raw: dict[str, Any], row_no: int) -> tuple[AgencyRecord | None, list[RowError]]:
    """Validate one row; return the record, or the errors naming each bad field."""
    errors: list[RowError] = []

    def fail(field_name: str, reason: str) -> None:
        errors.append(RowError(row_no, field_name, reason))

    if not isinstance(raw, dict):
        return None, [RowError(row_no, "-", "not an object")]
    lowered = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
    values = {name: _pick(lowered, name) for name in COLUMN_ALIASES}
    for name, value in values.items():
        reason = _text_problem(name, value)
        if reason:
            fail(name, reason)
            values[name] = None  # reported once; not checked again below
    for name in REQUIRED:
        if not values[name]:
            fail(name, "required")
    kind = values["kind"]
    if kind and kind not in _KINDS:
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
            problem = _service_eligibility_problem(service)
            if problem:
                fail("services", f"service {service['slug']!r}: {problem}")
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
    # The model's own field rules (lengths, URL, e-mail, choices, ranges): the same as a form's,
    # field by field (Agency.clean_fields would build a model instance for every row).
    for field_name, value in (("slug", slug), *record_fields.items()):
        if value is None or value == "":
            continue
        try:
            _MODEL_FIELDS[field_name].clean(value, None)
        except ValidationError as exc:
            fail(field_name, " ".join(str(m) for m in exc.messages))
    for service in services:
        for name in ("slug", "name", "description", "eligibility", "schedule"):
            reason = _text_problem(f"service.{name}", service[name])
            if reason:
                fail("services", f"service {service['name'][:40]!r}: {name}: {reason}")
    if errors:
        return None, errors
    return AgencyRecord(slug, record_fields, categories, services, [row_no]), []


@functools.cache
def _limit(name: str) -> int:
    """Characters allowed in a column: the model field's max_length, else TEXT_MAX."""
    model: type[Agency] | type[Service] = Agency
    if name.startswith("service."):
        model, name = Service, name.removeprefix("service.")
    try:
        field = model._meta.get_field(name)
        max_length = field.max_length if isinstance(field, Field) else None
    except FieldDoesNotExist:  # a column that is not a model field (categories, services)
        max_length = None
    return max_length or TEXT_MAX_CHARACTERS


_no_controls = ControlCharacterValidator()


def _text_problem(name: str, value: Any) -> str:
    """Why a text cell cannot be stored (NUL character, too long), or ""."""
    if not isinstance(value, str):
        return ""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        _no_controls(value)  # the model fields' own rule (security.validators)
    except ValidationError:
        return "contains a control character"
    limit = _limit(name)
    if len(value) > limit:
        return f"too long: {len(value):,} characters (at most {limit:,})"
    return ""


def validate_rows(
    rows: Iterable[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> tuple[list[AgencyRecord], list[RowError], int]:
    """Validate every row. Rows of one slug are one agency (an HSDS export lists one service
    a row) when they agree on the agency's fields; otherwise the later row is an error."""
    records: dict[str, AgencyRecord] = {}
    errors: list[RowError] = []
    bad_rows = 0
    for row_no, raw in enumerate(rows, start=1):
        record, row_errors = validate_row(raw, row_no)
        if progress:
            progress(row_no)
        existing = records.get(record.slug) if record is not None else None
        if record is not None and existing is not None and existing.fields != record.fields:
            row_errors = [
                RowError(
                    row_no,
                    "slug",
                    f"duplicate slug {record.slug!r}: row {existing.rows[0]} has the same slug "
                    "with different values",
                )
            ]
            record = None
        if record is None:
            errors.extend(row_errors)
            bad_rows += 1
            continue
        if existing is None:
            records[record.slug] = record
        else:
            existing.services.extend(record.services)
            existing.categories = sorted(set(existing.categories) | set(record.categories))
            existing.rows.append(row_no)
    return list(records.values()), errors, bad_rows
