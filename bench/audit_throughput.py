"""Benchmark: audited detail reads per second at 1, 4 and 16 concurrent clients (issue 11, item 5).

Each client is a process with its own database connection that calls the real read service
(relay.services.sheet_view: permission check, sections, the SHEET_VIEWED audit event, commit)
in a loop for a fixed time. What limits it is the audit append: every read takes the chain's
lock until its transaction commits.

Run on PostgreSQL against a database with demo data (`manage.py load_demo`), e.g.:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h4 SECRET_KEY=bench-only-... \\
    .venv/bin/python bench/audit_throughput.py --clients 1 4 16 --seconds 10
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from multiprocessing.synchronize import Event
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")


def _client(seconds: float, ready: mp.Queue, go: Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from agencies.actors import Staff
    from relay.models import ReferralSheet
    from relay.services import sheet_view

    sheet = ReferralSheet.objects.order_by("id").first()
    if sheet is None:
        raise SystemExit("load the demo data first (manage.py load_demo)")
    user = get_user_model().objects.get(
        membership__agency=sheet.owner_agency_id, membership__role="counselor"
    )
    staff = Staff.for_user(user)
    sheet_view(staff=staff, sheet_id=sheet.pk)  # connected, warm
    ready.put(1)
    go.wait()
    done, latencies = 0, []
    end = time.time() + seconds
    while (now := time.perf_counter()) and time.time() < end:
        sheet_view(staff=staff, sheet_id=sheet.pk)
        latencies.append(time.perf_counter() - now)
        done += 1
    out.put((done, latencies))


def run(clients: int, seconds: float) -> tuple[float, float]:
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    ready: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    go = mp.Event()
    procs = [mp.Process(target=_client, args=(seconds, ready, go, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    for _ in procs:  # every process set up and connected before the clock starts
        ready.get()
    go.set()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    total = sum(r[0] for r in results)
    latencies = sorted(x for r in results for x in r[1])
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else 0.0
    return total / seconds, p95 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"{'clients':>7} {'reads/s':>9} {'p95 ms':>8}")
    for n in args.clients:
        rate, p95 = run(n, args.seconds)
        print(f"{n:>7} {rate:>9.0f} {p95:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
