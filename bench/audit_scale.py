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
from typing import Any

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
elif {walk!r}.startswith("chains:"):
    from audit import chain, verification
    t = time.perf_counter(); n = 0
    for c in map(int, {walk!r}[7:].split(",")):
        heads = {{c: chain.Head()}}
        k, broken = verification._walk(heads, chain_id=c)
        assert broken is None, broken
        n += k
    s = time.perf_counter() - t
    print("chain walk", {walk!r}, n, "events", round(s, 1), "s", round(n / s), "events/s")
cpu = resource.getrusage(resource.RUSAGE_SELF)
print("rss_kib before", base, "peak", cpu.ru_maxrss, "cpu_s", round(cpu.ru_utime + cpu.ru_stime, 1))
"""


# The generated events: all text fixed but five numbers, so the canonical JSON (the bytes
# audit.chain.canonical_bytes writes; each worker checks that against it before it starts) and
# the COPY line are each one format string: about 3 µs of Python per event.
_CONTENT = (
    '{"action":"sheet.viewed","actor_agency_id":%d,"actor_api_key_id":null,'
    '"actor_kind":"user","actor_label":"bench%d","actor_user_id":%d,"detail":{"via":"view"},'
    '"ip":null,"lawful_basis":"","object_id":"%d","object_type":"sheet","occurred_at":"OCC",'
    '"recipient_agency_id":null,"request_id":"","sections":["basic","consultation"],'
    '"sheet_id":%d}'
)
_COPY_COLUMNS = (
    "id, chain, prev_hash, hash, occurred_at, action, actor_kind, actor_user_id, "
    "actor_agency_id, actor_api_key_id, actor_label, object_type, object_id, sheet_id, "
    "recipient_agency_id, sections, lawful_basis, detail, request_id, ip"
)
_LINE = (
    "%d\t%d\t%s\t%s\tOCC\tsheet.viewed\tuser\t%d\t%d\t\\N\tbench%d\tsheet\t%d\t%d\t\\N\t"
    '["basic", "consultation"]\t\t{"via": "view"}\t\t\\N\n'
)


def _fields(now: Any, k: int) -> dict[str, Any]:
    """The k-th generated event (k counts over the run) as audit.chain hashes it."""
    return {
        "occurred_at": now,
        "action": "sheet.viewed",
        "actor_kind": "user",
        "actor_user_id": 1000 + k % 500,
        "actor_agency_id": 1 + k % 40,
        "actor_api_key_id": None,
        "actor_label": f"bench{k % 500}",
        "object_type": "sheet",
        "object_id": str(1 + k % 100_000),
        "sheet_id": 1 + k % 100_000,
        "recipient_agency_id": None,
        "sections": ["basic", "consultation"],
        "lawful_basis": "",
        "detail": {"via": "view"},
        "request_id": "",
        "ip": None,
    }


def _generate_worker(n: int, first_k: int, chains: list[int], batch: int, report: bool) -> None:
    """Append n events to `chains` (round robin), continuing their heads, a batch per
    transaction: the heads locked, ids drawn from the table's sequence, rows written with COPY
    in id order, the heads moved. Runs in its own process (own connection)."""
    from hashlib import sha256

    from django.db import connection, transaction
    from django.utils import timezone

    from audit import chain

    started = time.perf_counter()
    done = 0
    while done < n:
        size = min(batch, n - done)
        now = timezone.now()
        occ = chain.canonical_value(now)
        content_t = _CONTENT.replace("OCC", occ)
        line_t = _LINE.replace("OCC", occ)
        for k in (first_k + done, first_k + done + 499, first_k + done + 99_999):
            fields = _fields(now, k)
            fast = content_t % (
                1 + k % 40,
                k % 500,
                1000 + k % 500,
                1 + k % 100_000,
                1 + k % 100_000,
            )
            if fast.encode() != chain.canonical_bytes(fields):
                raise AssertionError("the generator's text is not the canonical JSON")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT chain, hash, last_id, count FROM audit_chainhead WHERE chain = ANY(%s) "
                "ORDER BY chain FOR UPDATE",
                [chains],
            )
            heads = {c: [h, last, count] for c, h, last, count in cursor.fetchall()}
            cursor.execute(
                "SELECT nextval('audit_auditevent_id_seq') FROM generate_series(1, %s)", [size]
            )
            ids = sorted(r[0] for r in cursor.fetchall())
            lines = []
            width = len(chains)
            for i in range(size):
                k = first_k + done + i
                c = chains[i % width]
                head = heads[c]
                prev = head[0]
                agency, label, user, sheet = 1 + k % 40, k % 500, 1000 + k % 500, 1 + k % 100_000
                digest = sha256(prev.encode())
                digest.update((content_t % (agency, label, user, sheet, sheet)).encode())
                hashed = digest.hexdigest()
                lines.append(line_t % (ids[i], c, prev, hashed, user, agency, label, sheet, sheet))
                head[0], head[1], head[2] = hashed, ids[i], head[2] + 1
            with cursor.cursor.copy(f"COPY audit_auditevent ({_COPY_COLUMNS}) FROM STDIN") as copy:
                for j in range(0, size, 5000):
                    copy.write("".join(lines[j : j + 5000]))
            cursor.executemany(
                "UPDATE audit_chainhead SET hash = %s, last_id = %s, count = %s WHERE chain = %s",
                [(h, last, count, c) for c, (h, last, count) in heads.items()],
            )
        done += size
        if report and done % 500_000 < batch:
            rate = done / (time.perf_counter() - started)
            print(f"  worker: generated {done:,} of {n:,} ({rate:,.0f}/s)", flush=True)


_KEEP_INDEXES = ("audit_auditevent_pkey", "audit_chain_idx")


def generate(n: int, batch: int = 50_000, workers: int = 1, drop_indexes: bool = False) -> float:
    """Append n events continuing every chain's head; returns seconds taken.

    `workers` processes each own a share of the chains (each chain written by one process,
    so inside a chain ids still grow in append order). `drop_indexes` drops the secondary
    indexes of the audit table during the COPY and rebuilds them after (same definitions,
    from pg_indexes): building an index once is far cheaper than keeping eleven up to date row
    by row; the primary key and the (chain, id) index stay.
    """
    import multiprocessing as mp

    from django.db import connection, connections

    from audit.services import chains_in_use

    chains = list(range(chains_in_use()))
    workers = max(1, min(workers, len(chains)))
    started = time.perf_counter()
    definitions: list[tuple[str, str]] = []
    if drop_indexes:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_auditevent'"
                " AND indexname <> ALL(%s) ORDER BY indexname",
                [list(_KEEP_INDEXES)],
            )
            definitions = cursor.fetchall()
            for name, _ in definitions:
                cursor.execute(f'DROP INDEX "{name}"')
        print(f"  dropped {len(definitions)} indexes for the COPY", flush=True)
    if workers == 1:
        _generate_worker(n, 0, chains, batch, True)
    else:
        connections.close_all()  # each worker opens its own
        context = mp.get_context("fork")
        share = [n // workers + (1 if w < n % workers else 0) for w in range(workers)]
        procs = [
            context.Process(
                target=_generate_worker,
                args=(share[w], sum(share[:w]), chains[w::workers], batch, w == 0),
            )
            for w in range(workers)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        if any(p.exitcode for p in procs):
            raise SystemExit("a generator worker failed")
        print(f"  COPY done in {time.perf_counter() - started:.0f} s", flush=True)
    with connection.cursor() as cursor:
        for name, definition in definitions:
            t = time.perf_counter()
            # pg_indexes writes a partitioned table's index as "ON ONLY" (the parent alone,
            # invalid until every partition has one): built on every partition instead.
            cursor.execute(definition.replace(" ON ONLY ", " ON ", 1))
            print(f"  rebuilt {name} in {time.perf_counter() - t:.0f} s", flush=True)
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


def rss(walk: str, code_dir: str | None = None) -> str:
    """One walk in a fresh process; with `code_dir`, the code of that checkout (e.g. main's
    before a change), on the same database."""
    code = MEASURE_RSS.format(walk=walk, store=True)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
        cwd=code_dir,
    )
    return out.stdout.strip()


def split_walk(processes: int) -> None:
    """A probe, not verify_audit: the chains are independent, so walk them in `processes`
    processes at once (each its share of the chains, chain by chain through the (chain, id)
    index) and report the combined rate: what a parallel --full could gain on this machine."""
    from audit.services import chains_in_use

    chains = list(range(chains_in_use()))
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                MEASURE_RSS.format(
                    walk="chains:" + ",".join(map(str, chains[w::processes])), store=False
                ),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        for w in range(processes)
    ]
    outputs = [p.communicate()[0] for p in procs]
    seconds = time.perf_counter() - started
    events = sum(int(o.split(" events")[0].split()[-1]) for o in outputs)
    for o in outputs:
        print("  " + o.strip().replace("\n", "\n  "))
    print(
        f"split walk, {processes} processes: {events:,} events in {seconds:.1f} s = "
        f"{events / seconds:,.0f} events/s (start-up included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-model", action="store_true", help="no walk of the old model walk")
    parser.add_argument("--workers", type=int, default=1, help="generator processes")
    parser.add_argument(
        "--drop-indexes", action="store_true", help="rebuild the secondary indexes after COPY"
    )
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--before", help="a checkout whose fast walk runs side by side")
    parser.add_argument("--rounds", type=int, default=1, help="fast walks (each side)")
    parser.add_argument("--split", type=int, help="only the probe: walk in N processes")
    args = parser.parse_args()
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    from audit.models import AuditEvent
    from audit.verification import verify

    setup_test_environment()  # the test client's host checks; nothing else
    if args.split:
        print(os.getloadavg(), "load average")
        split_walk(args.split)
        print(os.getloadavg(), "load average")
        return
    if args.events:
        seconds = generate(args.events, workers=args.workers, drop_indexes=args.drop_indexes)
        print(f"generated {args.events:,} events in {seconds:.0f} s")
        if args.generate_only:
            return
    total = AuditEvent.objects.count()
    print(f"events in the table: {total:,}")
    if not args.skip_full:
        # Each in a fresh process: the rate, the peak RSS against the start, the client CPU.
        print(os.getloadavg(), "load average")
        if not args.skip_model:
            print(rss(walk="model"))
        for r in range(args.rounds):
            # With --before: that checkout's fast walk and this one's, alternating first.
            order = [None, args.before] if r % 2 else [args.before, None]
            for code_dir in order if args.before else [None]:
                name = code_dir or "this checkout"
                print(f"[{name}] {rss(walk='fast', code_dir=code_dir)}", flush=True)
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
