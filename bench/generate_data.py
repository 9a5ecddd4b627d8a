#!/usr/bin/env python3
"""Generate a large Tsunagu network in PostgreSQL for the API benchmark (bench/api_bench.py).

    .venv/bin/python bench/generate_data.py                 # full size (see below)
    .venv/bin/python bench/generate_data.py --scale 0.01    # 1 % of it, for a quick run

At --scale 1: 10,000 agencies, 1,000,000 sheets, 2,000,000 handoffs, of which one "hub"
agency receives 100,000 (the others share the rest at random, about 190 each). Every handoff
is sent; its status is a realistic mix (mostly completed). What the partner API's endpoints
read is written consistently with what the workflow would have written:

- relay_handoff rows with the columns the inbox index covers (to_agency, sent_at, id);
- guardian's direct group permission rows (view_handoff) for the sender and the receiver of
  every hop: the detail endpoint's object check;
- SheetAccess rows: the owner's (every section) and the receiver's (the hop's sections) while
  the hop is open: the detail endpoint's readable sections.

Not written: consent records (the hop's consent is null), sheet-level guardian rows, audit
events and outbox rows; the benchmark does not exercise what reads them.

The database (--database-url, default postgres://postgres@127.0.0.1:5432/tsunagu_bench) is
dropped and recreated, migrated, filled with COPY (foreign-key triggers off during the load:
the ids are generated consistently), analysed, and two API keys are issued: one for the hub,
one for a typical agency. They are written with sample handoff ids to var/bench/keys.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tsunagu_bench"
KEYS_FILE = ROOT / "var" / "bench" / "keys.json"
FULL = {"agencies": 10_000, "sheets": 1_000_000, "handoffs": 2_000_000, "hub": 100_000}
SECTIONS = ["basic", "consultation"]
# (status, share): most hops of a two-year-old network are closed.
STATUSES = [
    ("completed", 0.55),
    ("accepted", 0.12),
    ("acknowledged", 0.08),
    ("sent", 0.10),
    ("declined", 0.08),
    ("cancelled", 0.05),
    ("withdrawn", 0.02),
]
OPEN = {"sent", "acknowledged", "accepted", "completed"}
TEXT_TYPES = ("CharField", "TextField", "SlugField", "EmailField", "URLField")
EVERY_SECTION = [
    "basic",
    "consultation",
    "attendance",
    "home",
    "health",
    "safeguarding",
    "connections",
    "wishes",
    "attachments",
]


def django_env(url: str) -> dict[str, str]:
    """The environment a production process of Tsunagu gets, pointed at the bench database."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghij"),
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14"),
        "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/15"),
        "DJANGO_SETTINGS_MODULE": "tsunagu.settings",
    }


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"],
        env=django_env(url),
        check=True,
        cwd=ROOT,
    )


class Loader:
    """COPY rows into a model's table; columns not given take the field's default."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def template(self, model: Any) -> tuple[list[str], list[Any], dict[str, int]]:
        from django.db.models import NOT_PROVIDED

        columns, values = [], []
        for f in model._meta.concrete_fields:
            columns.append(f.column)
            if f.null:
                value = None
            elif f.default is not NOT_PROVIDED:
                value = f.get_default()
                if isinstance(value, dict | list):
                    value = json.dumps(value)
            elif f.get_internal_type() in TEXT_TYPES:
                value = ""
            else:
                value = None
            values.append(value)
        return columns, values, {c: i for i, c in enumerate(columns)}

    def copy(
        self, model: Any, fill: Callable[[list[Any], dict[str, int]], Iterator[list[Any]]]
    ) -> int:
        columns, template, index = self.template(model)
        started, count = time.monotonic(), 0
        sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
        with self.conn.cursor() as cur, cur.copy(sql) as copy:
            for row in fill(template, index):
                copy.write_row(row)
                count += 1
        print(
            f"  {model._meta.db_table}: {count:,} rows in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        return count


def handoff_specs(
    *, seed: int, agencies: int, sheets: int, handoffs: int, hub: int, owners: list[int]
) -> Iterator[tuple[int, int, int, int, datetime, str]]:
    """(id, sheet, from, to, sent_at, status) for every hop, the same on every call."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=730)
    hub_every = handoffs / hub if hub else None
    weights = [w for _s, w in STATUSES]
    names = [s for s, _w in STATUSES]
    for hop_id in range(1, handoffs + 1):
        sheet = rng.randint(1, sheets)
        sender = owners[sheet - 1]
        if hub_every and hop_id % round(hub_every) == 0:
            while sender == 1:  # the hub does not send to itself
                sheet = rng.randint(1, sheets)
                sender = owners[sheet - 1]
            receiver = 1
        else:
            receiver = rng.randint(2, agencies)
            if receiver == sender:
                receiver = 2 if sender != 2 else 3
        sent_at = start + timedelta(seconds=rng.randint(0, 730 * 86400))
        status = rng.choices(names, weights)[0]
        yield hop_id, sheet, sender, receiver, sent_at, status


def generate(args: argparse.Namespace) -> dict[str, Any]:
    import django

    os.environ.update(django_env(args.database_url))
    sys.path.insert(0, str(ROOT))
    django.setup()
    import psycopg
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    from agencies.models import Agency
    from relay.models import Handoff, ReferralSheet, SheetAccess
    from relay.models.access import HandoffGroupObjectPermission

    n_agencies = max(3, round(FULL["agencies"] * args.scale))
    n_sheets = max(10, round(FULL["sheets"] * args.scale))
    n_handoffs = max(20, round(FULL["handoffs"] * args.scale))
    n_hub = max(1, round(FULL["hub"] * args.scale))
    print(
        f"generating {n_agencies:,} agencies, {n_sheets:,} sheets, {n_handoffs:,} handoffs "
        f"({n_hub:,} to the hub)",
        flush=True,
    )
    user = get_user_model().objects.create(username="bench")
    view_handoff = Permission.objects.get(codename="view_handoff", content_type__app_label="relay")
    rng = random.Random(args.seed)
    owners = [rng.randint(1, n_agencies) for _ in range(n_sheets)]
    now = datetime.now(UTC)
    started = time.monotonic()

    with psycopg.connect(args.database_url) as conn:
        conn.execute("SET session_replication_role = replica")  # no FK triggers during COPY
        load = Loader(conn)

        def groups(template: list[Any], ix: dict[str, int]) -> Iterator[list[Any]]:
            for i in range(1, n_agencies + 1):
                yield [i, f"agency:bench-{i}"]

        with conn.cursor() as cur, cur.copy("COPY auth_group (id, name) FROM STDIN") as copy:
            for row in groups([], {}):
                copy.write_row(row)

        kinds = ["npo_free_school", "education_support", "welfare_office", "child_guidance"]

        def agencies(template: list[Any], ix: dict[str, int]) -> Iterator[list[Any]]:
            for i in range(1, n_agencies + 1):
                row = list(template)
                row[ix["id"]] = i
                row[ix["slug"]] = "bench-hub" if i == 1 else f"bench-{i}"
                row[ix["name"]] = "ハブ機関" if i == 1 else f"ベンチ機関{i}"
                row[ix["kind"]] = kinds[i % len(kinds)]
                row[ix["municipality"]] = f"市区町村{i % 300}"
                row[ix["group_id"]] = i
                row[ix["requires_supervisor_approval"]] = False
                row[ix["created_at"]] = row[ix["updated_at"]] = now
                yield row

        load.copy(Agency, agencies)

        def sheets(template: list[Any], ix: dict[str, int]) -> Iterator[list[Any]]:
            consulted = date(2025, 4, 1)
            for i in range(1, n_sheets + 1):
                row = list(template)
                row[ix["id"]] = i
                row[ix["owner_agency_id"]] = owners[i - 1]
                row[ix["created_by_id"]] = user.pk
                row[ix["created_at"]] = row[ix["updated_at"]] = now
                row[ix["first_sent_at"]] = now
                row[ix["subject_initials"]] = "A.T"
                row[ix["consulted_on"]] = consulted
                row[ix["consulter"]] = "guardian"
                row[ix["consultation"]] = "登校しぶりが続いている。"
                row[ix["categories"]] = '["school_refusal"]'
                yield row

        load.copy(ReferralSheet, sheets)

        spec = {
            "seed": args.seed + 1,
            "agencies": n_agencies,
            "sheets": n_sheets,
            "handoffs": n_handoffs,
            "hub": n_hub,
            "owners": owners,
        }
        sections = json.dumps(SECTIONS)

        def hops(template: list[Any], ix: dict[str, int]) -> Iterator[list[Any]]:
            for hop_id, sheet, sender, receiver, sent_at, status in handoff_specs(**spec):
                row = list(template)
                row[ix["id"]] = hop_id
                row[ix["sheet_id"]] = sheet
                row[ix["from_agency_id"]] = sender
                row[ix["to_agency_id"]] = receiver
                row[ix["sections"]] = sections
                row[ix["purpose"]] = "support"
                row[ix["status"]] = status
                row[ix["version"]] = 3
                row[ix["created_at"]] = sent_at - timedelta(minutes=5)
                row[ix["sent_at"]] = sent_at
                row[ix["updated_at"]] = sent_at + timedelta(days=1)
                row[ix["ack_due_at"]] = sent_at + timedelta(days=2)
                if status != "sent":
                    row[ix["acknowledged_at"]] = sent_at + timedelta(hours=3)
                if status in ("accepted", "completed"):
                    row[ix["accepted_at"]] = sent_at + timedelta(days=1)
                if status == "completed":
                    row[ix["completed_at"]] = sent_at + timedelta(days=20)
                    row[ix["outcome"]] = "support_started"
                if status == "declined":
                    row[ix["declined_at"]] = sent_at + timedelta(days=1)
                    row[ix["decline_reason"]] = "no_capacity"
                if status == "cancelled":
                    row[ix["cancelled_at"]] = sent_at + timedelta(days=1)
                    row[ix["cancel_reason"]] = "no_longer_needed"
                if status == "withdrawn":
                    row[ix["withdrawn_at"]] = sent_at + timedelta(days=1)
                yield row

        load.copy(Handoff, hops)

        def handoff_perms(template: list[Any], ix: dict[str, int]) -> Iterator[list[Any]]:
            perm_id = 0
            for hop_id, _sheet, sender, receiver, _sent_at, _status in handoff_specs(**spec):
                for group in (sender, receiver):
                    perm_id += 1
                    yield [perm_id, view_handoff.pk, group, hop_id]

        load.copy(HandoffGroupObjectPermission, handoff_perms)

        def access(template: list[Any], ix: dict[str, int]) -> Iterator[list[Any]]:
            every = json.dumps(EVERY_SECTION)
            for i in range(1, n_sheets + 1):
                yield [i, owners[i - 1], i, None, every, now]
            row_id = n_sheets
            for hop_id, sheet, _sender, receiver, sent_at, status in handoff_specs(**spec):
                if status in OPEN:
                    row_id += 1
                    yield [row_id, receiver, sheet, hop_id, sections, sent_at]

        load.copy(SheetAccess, access)
        conn.execute("SET session_replication_role = DEFAULT")
        for table in (
            "auth_group",
            Agency._meta.db_table,
            ReferralSheet._meta.db_table,
            Handoff._meta.db_table,
            HandoffGroupObjectPermission._meta.db_table,
            SheetAccess._meta.db_table,
        ):
            # Table names from the models, not input.
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        conn.commit()
    print(f"loaded in {time.monotonic() - started:.0f} s; vacuum analyse...", flush=True)
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    Group.objects.filter(pk=1).update(name="agency:bench-hub")
    return issue_keys(n_agencies, n_handoffs, n_hub, n_sheets, time.monotonic() - started)


def issue_keys(
    n_agencies: int, n_handoffs: int, n_hub: int, n_sheets: int, seconds: float
) -> dict[str, Any]:
    from django.db.models import Count

    from agencies.models import Agency
    from api.keys import api_key_create
    from audit.context import Actor
    from relay.models import Handoff

    # A typical agency: the median inbox size among a sample of receivers.
    sample = list(
        Handoff.objects.filter(to_agency_id__in=range(2, min(n_agencies, 202)))
        .values("to_agency_id")
        .annotate(n=Count("id"))
        .order_by("n")
    )
    typical_id = sample[len(sample) // 2]["to_agency_id"]
    out: dict[str, Any] = {
        "sizes": {
            "agencies": n_agencies,
            "sheets": n_sheets,
            "handoffs": n_handoffs,
            "hub_inbox": n_hub,
        },
        "generation_seconds": round(seconds),
        "agencies": {},
    }
    for label, agency_id in (("hub", 1), ("typical", typical_id)):
        agency = Agency.objects.get(pk=agency_id)
        _key, plaintext = api_key_create(
            agency=agency,
            name=f"bench {label}",
            scopes=["handoffs:read", "handoffs:write", "sheets:read", "directory:read"],
            expires_at=None,
            created_by=None,
            actor=Actor.system("bench"),
        )
        readable = Handoff.objects.filter(
            to_agency=agency, status__in=sorted(OPEN), sent_at__isnull=False
        ).order_by("-sent_at", "-id")
        out["agencies"][label] = {
            "slug": agency.slug,
            "key": plaintext,
            "inbox": Handoff.objects.filter(to_agency=agency).count(),
            "detail_ids": list(readable.values_list("id", flat=True)[:200]),
        }
    KEYS_FILE.parent.mkdir(parents=True, exist_ok=True)
    KEYS_FILE.write_text(json.dumps(out, indent=2))
    print(f"keys and sample ids: {KEYS_FILE}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("the benchmark data needs PostgreSQL")
    started = time.monotonic()
    recreate_database(args.database_url)
    migrate(args.database_url)
    out = generate(args)
    hub, typical = out["agencies"]["hub"]["inbox"], out["agencies"]["typical"]["inbox"]
    print(
        f"done in {time.monotonic() - started:.0f} s: {json.dumps(out['sizes'])}; "
        f"hub inbox {hub:,}, typical inbox {typical:,}"
    )


if __name__ == "__main__":
    main()
