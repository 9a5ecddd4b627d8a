"""Writing validated agencies: upsert by slug in batches (bulk inserts and updates), with
each agency's group, categories and services, inside the caller's one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import Field, Model
from django.utils import timezone

from agencies.categories import CATEGORIES
from agencies.import_records import AgencyRecord, ImportResult
from agencies.models import Agency, Category, Service

BATCH_SIZE = 1000
# Progress: (phase, done, total), phase "validate" (rows) or "write" (agencies).
Progress = Callable[[str, int, int], None]


def existing_slugs(slugs: list[str]) -> set[str]:
    """Which of `slugs` are already in the directory (queried in batches)."""
    found: set[str] = set()
    for start in range(0, len(slugs), BATCH_SIZE):
        batch = slugs[start : start + BATCH_SIZE]
        found.update(Agency.objects.filter(slug__in=batch).values_list("slug", flat=True))
    return found


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


def _column(field: Field[Any, Any]) -> str:
    """A concrete field's column (the stubs allow None, which only non-concrete fields have)."""
    if field.column is None:
        raise TypeError(f"{field} has no column")
    return field.column


def _insert(model: type[Model], rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (COPY on PostgreSQL). bulk_create spends most of its time preparing
    every value of every row; here the values are already clean (validated strings, ints,
    bools, ids) and only the columns a row does not give (defaults, auto_now) are prepared,
    once for the whole batch."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    constant: dict[str, Any] = {}
    for f in fields:
        if f.attname in rows[0]:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value: Any = now
        else:
            value = f.get_default()
        constant[f.attname] = f.get_db_prep_save(value, connection)
    names = [f.attname for f in fields]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(_column(f)) for f in fields)
    params = [[row[n] if n in row else constant[n] for n in names] for row in rows]
    # Identifiers from the model's own metadata, quoted; every value is a parameter.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: one stream for the batch, no statement parsing per row or per value.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for values in params:
                    copy.write_row(values)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
            cursor.executemany(sql, params)


def _agency_groups(slugs: list[str]) -> dict[str, int]:
    """The group id of each new agency ("agency:<slug>", as Agency.save names it)."""
    names = [f"agency:{slug}" for slug in slugs]
    ids = dict(Group.objects.filter(name__in=names).values_list("name", "id"))
    _insert(Group, [{"name": n} for n in names if n not in ids])
    ids.update(Group.objects.filter(name__in=names).values_list("name", "id"))
    return {slug: ids[f"agency:{slug}"] for slug in slugs}


def _write_batch(batch: list[AgencyRecord], result: ImportResult) -> None:
    slugs = [r.slug for r in batch]
    current = {a.slug: a for a in Agency.objects.filter(slug__in=slugs)}
    new = [r for r in batch if r.slug not in current]
    groups = _agency_groups([r.slug for r in new])
    _insert(Agency, [{"slug": r.slug, "group_id": groups[r.slug], **r.fields} for r in new])
    changed = [r for r in batch if r.slug in current]
    if changed:
        names = list(changed[0].fields.keys() | {"ack_sla_hours"})
        for record in changed:
            agency = current[record.slug]
            for name, value in record.fields.items():
                setattr(agency, name, value)
        now = timezone.now()
        for record in changed:
            current[record.slug].updated_at = now  # bulk_update skips auto_now
        Agency.objects.bulk_update([current[r.slug] for r in changed], [*names, "updated_at"])
    result.created += len(new)
    result.updated += len(changed)
    ids = dict(Agency.objects.filter(slug__in=slugs).values_list("slug", "id"))
    agency_links = Agency.categories.through
    agency_links.objects.filter(agency_id__in=ids.values()).delete()
    _insert(
        agency_links,
        [{"agency_id": ids[r.slug], "category_id": c} for r in batch for c in r.categories],
    )
    _write_services(batch, ids, result)


def _write_services(batch: list[AgencyRecord], ids: dict[str, int], result: ImportResult) -> None:
    specs = {(ids[r.slug], spec["slug"]): spec for r in batch for spec in r.services}
    if not specs:
        return
    current = {(s.agency_id, s.slug): s for s in Service.objects.filter(agency_id__in=ids.values())}
    text = ("name", "description", "eligibility", "schedule")
    # The structured eligibility (agencies/eligibility.py), validated by Service.clean.
    rules = (
        "age_min",
        "age_max",
        "grades",
        "municipalities",
        "requires_child_wish",
        "apply_through_school",
        "active",
    )
    json_fields = {
        f.name: f
        for f in Service._meta.concrete_fields
        if f.name in ("grades", "municipalities") and isinstance(f, Field)
    }

    def prepared(spec: dict[str, Any]) -> dict[str, Any]:
        row = {k: spec[k] for k in (*text, *rules)}
        for name, model_field in json_fields.items():
            row[name] = model_field.get_db_prep_save(row[name], connection)
        return row

    _insert(
        Service,
        [
            {"agency_id": agency_id, "slug": slug, **prepared(spec)}
            for (agency_id, slug), spec in specs.items()
            if (agency_id, slug) not in current
        ],
    )
    changed = []
    for key, spec in specs.items():
        service = current.get(key)
        if service is not None:
            for name in (*text, *rules):
                setattr(service, name, spec[name])
            changed.append(service)
    Service.objects.bulk_update(changed, [*text, *rules])
    service_ids = {
        (s.agency_id, s.slug): s.pk for s in Service.objects.filter(agency_id__in=ids.values())
    }
    links = Service.categories.through
    links.objects.filter(service_id__in=[service_ids[key] for key in specs]).delete()
    _insert(
        links,
        [
            {"service_id": service_ids[key], "category_id": code}
            for key, spec in specs.items()
            for code in spec["categories"]
        ],
    )
    result.services += len(specs)


@transaction.atomic
def apply_records(records: list[AgencyRecord], progress: Progress | None = None) -> ImportResult:
    """Upsert validated records by slug, with their categories and services, in batches of
    BATCH_SIZE, all inside one transaction."""
    result = ImportResult()
    ensure_categories()
    for start in range(0, len(records), BATCH_SIZE):
        _write_batch(records[start : start + BATCH_SIZE], result)
        if progress:
            progress("write", min(start + BATCH_SIZE, len(records)), len(records))
    return result
