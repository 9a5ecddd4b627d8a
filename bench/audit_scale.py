"""Benchmark: the audit trail at millions of events (issue 11, items 3 and 6).

Generates N events with COPY on PostgreSQL (each a valid link of its chain, spread over the
chains like concurrent appenders would, continuing from the current heads), then measures:

* `verify_audit --full` (the fast walk) and the model walk it replaced (issue 14 item 4), each
  in a fresh process: events per second, peak RSS against the start, and client CPU,
* an incremental verification of 10,000 new events,
* the supervisor audit page (GET /supervisor/audit/ as a demo supervisor): p50 and p95.

Run on a database with demo data (`manage.py load_demo`), e.g.:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h4 SECRET_KEY=bench-only-... \\
    .venv/bin/python bench/audit_scale.py --events 2000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")

MEASURE_RSS = """
import resource, time, django
django.setup()
from django.db import connection
connection.ensure_connection()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if {walk!r} == "fast":
    from audit.verification import verify
    t = time.perf_counter(); r = verify(full=True, store={store}); s = time.perf_counter() - t
    print("fast walk (verify --full):", r.ok, r.checked, "events", round(s, 1), "s",
          round(r.checked / s), "events/s")
elif {walk!r} == "model":
    from audit import chain, verification
    from audit.models import AuditEvent
    t = time.perf_counter()
    n, broken = chain.walk(verification._rows(AuditEvent.objects.all()), {{}})
    s = time.perf_counter() - t
    print("model walk (before):", broken is None, n, "events", round(s, 1), "s", round(n / s),
          "events/s")
cpu = resource.getrusage(resource.RUSAGE_SELF)
print("rss_kib before", base, "peak", cpu.ru_maxrss, "cpu_s", round(cpu.ru_utime + cpu.ru_stime, 1))
"""


def generate(n: int, batch: int = 50_000) -> float:
    """Append n events continuing every chain's head; returns seconds taken."""
    from django.db import connection, transaction
    from django.utils import timezone

    from audit import chain
    from audit.bulk import copy_rows
    from audit.models import AuditEvent, ChainHead
    from audit.services import chains_in_use

    chains = chains_in_use()
    started = time.perf_counter()
    done = 0
    while done < n:
        size = min(batch, n - done)
        with transaction.atomic():
            heads = {
                h.chain: h
                for h in ChainHead.objects.select_for_update().filter(chain__lt=chains)
            }
            now = timezone.now()
            rows = []
            for i in range(size):
                head = heads[(done + i) % chains]
                row = {
                    "occurred_at": now,
                    "action": "sheet.viewed",
                    "actor_kind": "user",
                    "actor_user_id": 1000 + i % 500,
                    "actor_agency_id": 1 + i % 40,
                    "actor_api_key_id": None,
                    "actor_label": f"bench{i % 500}",
                    "object_type": "sheet",
                    "object_id": str(1 + (done + i) % 100_000),
                    "sheet_id": 1 + (done + i) % 100_000,
                    "recipient_agency_id": None,
                    "sections": ["basic", "consultation"],
                    "lawful_basis": "",
                    "detail": {"via": "view"},
                    "request_id": "",
                    "ip": None,
                    "chain": head.chain,
                    "prev_hash": head.hash,
                }
                row["hash"] = head.hash = chain.compute_hash(head.hash, row)
                head.count += 1
                rows.append(row)
            copy_rows(AuditEvent, rows)
            for h in heads.values():
                h.last_id = (
                    AuditEvent.objects.filter(chain=h.chain, hash=h.hash)
                    .values_list("id", flat=True)
                    .first()
                    or h.last_id
                )
                h.save()
        done += size
        if done % 500_000 < batch:
            rate = done / (time.perf_counter() - started)
            print(f"  generated {done:,} ({rate:,.0f}/s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
    return time.perf_counter() - started


def page_timings(requests: int) -> tuple[float, float]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    # Plain static storage: the bench measures the page, not a collectstatic manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    from tests.fixtures import sign_in

    user = get_user_model().objects.filter(membership__role="supervisor").order_by("id").first()
    client = Client()
    sign_in(client, user)  # a supervisor's session has passed the second step
    times = []
    for _ in range(requests):
        t = time.perf_counter()
        response = client.get("/supervisor/audit/", HTTP_HOST="127.0.0.1")
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.status_code  # noqa: S101 (bench)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def rss(walk: str) -> str:
    code = MEASURE_RSS.format(walk=walk, store=True)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--skip-full", action="store_true")
    args = parser.parse_args()
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    from audit.models import AuditEvent
    from audit.verification import verify

    setup_test_environment()  # the test client's host checks; nothing else
    if args.events:
        seconds = generate(args.events)
        print(f"generated {args.events:,} events in {seconds:.0f} s")
    total = AuditEvent.objects.count()
    print(f"events in the table: {total:,}")
    if not args.skip_full:
        # Each in a fresh process: the rate, the peak RSS against the start, the client CPU.
        print(os.getloadavg(), "load average")
        print(rss(walk="model"))
        print(rss(walk="fast"))
        print("baseline process (django only):", rss(walk="none"))
        print(os.getloadavg(), "load average")
    generate(10_000)
    t = time.perf_counter()
    report = verify()
    print(
        f"incremental verify: {report.checked} new events in "
        f"{(time.perf_counter() - t) * 1000:.0f} ms (ok={report.ok})"
    )
    p50, p95 = page_timings(60)
    print(f"audit page: p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
