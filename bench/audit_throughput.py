"""Benchmark: audited detail reads per second at 1, 4 and 16 concurrent clients (issue 11, item 5).

Each client is a process with its own database connection that calls the real read service
(relay.services.sheet_view: permission check, sections, the SHEET_VIEWED audit event, commit)
in a loop for a fixed time. What limits it is the audit append: every read takes a chain's
head lock until its transaction commits. Each concurrency runs twice, side by side: with the
previous append (lock and read the head, then one INSERT moving it: two round trips) and the
current one (head lock, link, INSERT and head move in one statement), and reports how long
the head stays locked (p50/p95): from FOR UPDATE returning to the commit for the previous
append; from the one statement returning to the commit for the current one (the lock is taken
inside that statement, so its last fraction of a millisecond is not counted).

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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")


def _previous_append(event: Any, content: bytes) -> bool:
    """The append before the one-statement one: audit_record then locks and reads a head
    (_take_head), and inserts moving it (_insert_moving_head): two round trips."""
    return False


def _hold_clock(holds: list[float]) -> None:
    """Record how long each transaction holds its chain head: from the moment the head is
    locked (FOR UPDATE returned) to the commit."""
    from django.db import transaction

    from audit import services

    take = services._take_head

    def timed_take() -> tuple[int, str]:
        head = take()
        locked = time.perf_counter()
        transaction.on_commit(lambda: holds.append(time.perf_counter() - locked))
        return head

    services._take_head = timed_take
    append = services._append_locking_head

    def timed_append(event: Any, content: bytes) -> bool:
        done = append(event, content)
        if done:
            locked = time.perf_counter()
            transaction.on_commit(lambda: holds.append(time.perf_counter() - locked))
        return done

    services._append_locking_head = timed_append  # type: ignore[assignment]


def _client(  # type: ignore[type-arg]
    seconds: float,
    previous: bool,
    ready: mp.Queue,
    go: Event,
    out: mp.Queue,
    chains: int | None = None,
) -> None:
    import django

    django.setup()
    if chains is not None:
        from django.conf import settings

        settings.AUDIT_CHAINS = chains  # read at each append (audit.services.chains_in_use)
    from django.contrib.auth import get_user_model

    from agencies.actors import Staff
    from audit import services
    from relay.models import ReferralSheet
    from relay.services import sheet_view

    sheet = ReferralSheet.objects.order_by("id").first()
    if sheet is None:
        raise SystemExit("load the demo data first (manage.py load_demo)")
    user = get_user_model().objects.get(
        membership__agency=sheet.owner_agency_id, membership__role="counselor"
    )
    staff = Staff.for_user(user)
    if previous:
        services._append_locking_head = _previous_append  # type: ignore[assignment]
    holds: list[float] = []
    _hold_clock(holds)
    sheet_view(staff=staff, sheet_id=sheet.pk)  # connected, warm
    holds.clear()
    ready.put(1)
    go.wait()
    done, latencies = 0, []
    end = time.time() + seconds
    while (now := time.perf_counter()) and time.time() < end:
        sheet_view(staff=staff, sheet_id=sheet.pk)
        latencies.append(time.perf_counter() - now)
        done += 1
    out.put((done, latencies, holds))


def _pct(values: list[float], q: float) -> float:
    return values[max(0, int(len(values) * q) - 1)] * 1000 if values else 0.0


def run(
    clients: int, seconds: float, previous: bool, chains: int | None = None
) -> tuple[float, float, float, float]:
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    ready: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    go = mp.Event()
    procs = [
        mp.Process(target=_client, args=(seconds, previous, ready, go, out, chains))
        for _ in range(clients)
    ]
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
    holds = sorted(x for r in results for x in r[2])
    return total / seconds, _pct(latencies, 0.95), _pct(holds, 0.5), _pct(holds, 0.95)


def compare_chains(clients: list[int], seconds: float, chains: list[int], rounds: int) -> None:
    """Each concurrency with each AUDIT_CHAINS value, alternating (the order reversed every
    round, so neither setting always runs first), on the same database in the same run."""
    print(
        f"{'chains':>6} {'clients':>7} {'reads/s':>9} {'p95 ms':>8} {'hold p50':>9} {'hold p95':>9}"
    )
    for r in range(rounds):
        for n in clients:
            for c in chains if r % 2 == 0 else list(reversed(chains)):
                rate, p95, hold50, hold95 = run(n, seconds, False, chains=c)
                print(
                    f"{c:>6} {n:>7} {rate:>9.0f} {p95:>8.1f} {hold50:>9.2f} {hold95:>9.2f}"
                    f"   load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--chains",
        type=int,
        nargs="+",
        help="compare AUDIT_CHAINS values (current append) instead of the two appends",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --chains: rounds, the order reversed each"
    )
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}")
    if args.chains:
        compare_chains(args.clients, args.seconds, args.chains, args.rounds)
        print(f"load average {os.getloadavg()}")
        return
    print(
        f"{'append':>9} {'clients':>7} {'reads/s':>9} {'p95 ms':>8} {'hold p50':>9} {'hold p95':>9}"
    )
    for n in args.clients:
        # The previous append and this one, one after the other at each concurrency.
        for previous in (True, False):
            rate, p95, hold50, hold95 = run(n, args.seconds, previous)
            name = "previous" if previous else "current"
            print(
                f"{name:>9} {n:>7} {rate:>9.0f} {p95:>8.1f} {hold50:>9.2f} {hold95:>9.2f}",
                flush=True,
            )
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
