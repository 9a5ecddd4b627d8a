#!/usr/bin/env python3
"""Send and detail latency before and after provisions (issue 10), and storage per provision.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python bench/provision_bench.py [--hops 100] [--reads 300] [--background 500]

Runs the workflow services in process (no HTTP) on the database of DATABASE_URL, migrated
first (so an owner URL is needed on PostgreSQL). It builds `--background` sent hops to one
receiver (the typical agency's inbox), then measures, in each mode:

- send: `handoff_relay` (create + consent gate + send in one transaction) of `--hops` sheets;
- detail: the receiver's `handoff_view` (an audited read) of random hops, `--reads` times.

Modes: `after` is the code as it is (snapshot taken in the send transaction, receivers read
provisions). `before` approximates the code before issue 10 in the same tree: the snapshot
write is skipped and the receiver's read takes the live sheet's sections, as main did. Each
mode works on hops of its own. Storage per provision is measured on PostgreSQL with
pg_column_size over the rows and pg_total_relation_size of the table (indexes included).

Prints a Markdown table and writes var/bench/provision_bench.json. The full size of the issue
(2M handoffs) is not something this script builds; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")
RESULTS_FILE = ROOT / "var" / "bench" / "provision_bench.json"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


@contextmanager
def before_provisions() -> Iterator[None]:
    """The send without its snapshot write, and the receiver's read from the live sheet."""
    from relay import snapshots
    from relay.sections import sheet_content
    from relay.services import handoffs

    real_snapshot, real_hop_content = handoffs._snapshot, snapshots.hop_content

    class NoProvision:
        pk = None
        version = 1
        content_hash = ""
        changed_sections: list[str] = []

    def live(*, handoff: Any, **_: Any) -> dict[str, Any]:
        return sheet_content(handoff.sheet, handoff.sections)

    handoffs._snapshot = lambda *args, **kwargs: NoProvision()  # type: ignore[assignment]
    snapshots.hop_content = live  # type: ignore[assignment]
    try:
        yield
    finally:
        handoffs._snapshot = real_snapshot  # type: ignore[assignment]
        snapshots.hop_content = real_hop_content  # type: ignore[assignment]


def build_network() -> Any:
    """A ward desk and an NPO with one staff member each, new for every run."""
    from agencies.actors import Staff
    from agencies.models import AgencyKind, Role
    from tests.factories import AgencyFactory, MembershipFactory

    run = f"{int(time.time())}"
    ward = AgencyFactory(slug=f"bench-ward-{run}", kind=AgencyKind.WARD_DESK)
    npo = AgencyFactory(slug=f"bench-npo-{run}", kind=AgencyKind.NPO_FREE_SCHOOL)
    counselor = MembershipFactory(
        agency=ward, role=Role.COUNSELOR, user__username=f"bench-counselor-{run}"
    )
    intake = MembershipFactory(agency=npo, role=Role.INTAKE, user__username=f"bench-intake-{run}")
    return ward, npo, Staff.for_user(counselor.user), Staff.for_user(intake.user)


def send_one(ward_staff: Any, npo: Any) -> Callable[[], Any]:
    """A fresh sheet with consent; returns the send to time."""
    from django.utils import timezone

    from relay import services
    from tests.fixtures import SHEET_DATA

    sheet = services.sheet_create(staff=ward_staff, data=dict(SHEET_DATA))
    services.consent_record(
        staff=ward_staff,
        sheet_id=sheet.pk,
        grantors=["guardian"],
        method="written",
        recipients=[npo],
        sections=["basic", "consultation", "attendance", "home"],
        purposes=["support"],
        valid_until=timezone.now() + timedelta(days=180),
    )
    return lambda: services.handoff_relay(
        staff=ward_staff,
        sheet_id=sheet.pk,
        to_agency=npo,
        sections=["basic", "consultation", "attendance", "home"],
        purpose="support",
    )


def measure(mode: str, args: argparse.Namespace, net: Any) -> dict[str, Any]:
    from relay import services
    from relay.models import Handoff

    _ward, npo, ward_staff, npo_staff = net
    sends: list[float] = []
    ids: list[int] = []
    with before_provisions() if mode == "before" else nullcontext():
        for _ in range(args.hops):
            send = send_one(ward_staff, npo)
            start = time.perf_counter()
            hop = send()
            sends.append((time.perf_counter() - start) * 1000)
            ids.append(hop.pk)
        reads = []
        for _ in range(args.reads):
            hop_id = random.choice(ids)
            reads.append(
                timed(lambda h=hop_id: services.handoff_view(staff=npo_staff, handoff_id=h))
            )
    inbox = Handoff.objects.filter(to_agency=npo).count()
    return {
        "mode": mode,
        "inbox": inbox,
        "send_p50_ms": round(statistics.median(sends), 2),
        "send_p95_ms": round(p95(sends), 2),
        "detail_p50_ms": round(statistics.median(reads), 2),
        "detail_p95_ms": round(p95(reads), 2),
    }


def storage() -> dict[str, Any]:
    from django.db import connection

    from relay.models import Provision

    count = Provision.objects.count()
    if connection.vendor != "postgresql" or not count:
        return {"provisions": count}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT avg(pg_column_size(p.*)), avg(pg_column_size(p.content)),"
            " pg_total_relation_size('relay_provision') FROM relay_provision p"
        )
        row_bytes, content_bytes, total = cursor.fetchone()
    return {
        "provisions": count,
        "avg_row_bytes": round(float(row_bytes)),
        "avg_content_bytes": round(float(content_bytes)),
        "table_bytes_per_provision": round(total / count),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hops", type=int, default=100, help="sends timed per mode")
    parser.add_argument("--reads", type=int, default=300, help="detail reads timed per mode")
    parser.add_argument("--background", type=int, default=500, help="hops in the inbox first")
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args()
    random.seed(args.seed)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    net = build_network()
    _ward, npo, ward_staff, _ = net
    for _ in range(args.background):
        send_one(ward_staff, npo)()
    results = [measure("before", args, net), measure("after", args, net)]
    report = {
        "database": connection.vendor,
        "size": {"hops": args.hops, "reads": args.reads, "background": args.background},
        "results": results,
        "storage": storage(),
    }
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(report, indent=2))
    print(f"| mode | inbox | send p50 | send p95 | detail p50 | detail p95 | ({connection.vendor})")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['mode']} | {r['inbox']} | {r['send_p50_ms']} ms | {r['send_p95_ms']} ms "
            f"| {r['detail_p50_ms']} ms | {r['detail_p95_ms']} ms |"
        )
    print(json.dumps(report["storage"]))


if __name__ == "__main__":
    main()
