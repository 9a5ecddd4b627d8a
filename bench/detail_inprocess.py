"""Benchmark: the audited handoff detail in-process, the one-statement audit append against the
two-step one (issue 14, item 2), side by side in one process on the same hops.

`GET /api/v1/handoffs/{id}/` through Django's test client (middleware, DRF, the service, the
audit append, the commit) with the API keys of `bench/generate_data.py`, for the hub and the
typical agency, alternating rounds of:

* `two-step`: the append as before: lock and read a chain head, then INSERT moving the head;
* `one-stmt`: audit.services._append_locking_head: lock, link, INSERT and head move at once.

Prints p50/p95 in ms, the statements per request (BEGIN and COMMIT not counted)
and the load average. generate_data writes no provisions, so the hop read takes its second
query (the hop alone, as for a draft): one statement more than a real sent hop in both.

    .venv/bin/python bench/detail_inprocess.py --database-url postgres://.../tsunagu_bench --n 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_data import DEFAULT_URL, KEYS_FILE, ROOT, django_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--keys", type=Path, default=KEYS_FILE)
    parser.add_argument("--n", type=int, default=200, help="requests per path and agency")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    os.environ.update(django_env(args.database_url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from audit import services

    one_statement = services._append_locking_head

    def two_step(event: Any, content: bytes) -> bool:
        return False  # audit_record then takes the head first, then inserts moving it

    keys = json.loads(args.keys.read_text())
    client = Client(SERVER_NAME="localhost")
    print(f"load average {os.getloadavg()}")
    print(f"{'agency':>8} {'append':>9} {'p50 ms':>8} {'p95 ms':>8} {'statements':>10}")
    for who in ("hub", "typical"):
        agency = keys["agencies"][who]
        headers = {"HTTP_AUTHORIZATION": f"Bearer {agency['key']}"}
        urls = [f"/api/v1/handoffs/{i}/" for i in agency["detail_ids"]]
        samples: dict[str, list[float]] = {"two-step": [], "one-stmt": []}
        counts: dict[str, int] = {}
        per_round = max(1, args.n // args.rounds)
        for name, append in (("two-step", two_step), ("one-stmt", one_statement)):
            services._append_locking_head = append  # type: ignore[assignment]
            for url in urls[:3]:  # warm: the key's last_used_at write, caches
                client.get(url, **headers)
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(urls[0], **headers)
            assert response.status_code == 200, response.content  # noqa: S101
            counts[name] = sum(q["sql"] not in ("BEGIN", "COMMIT") for q in ctx.captured_queries)
        for _ in range(args.rounds):
            for name, append in (("two-step", two_step), ("one-stmt", one_statement)):
                services._append_locking_head = append  # type: ignore[assignment]
                for i in range(per_round):
                    started = time.perf_counter()
                    client.get(urls[i % len(urls)], **headers)
                    samples[name].append((time.perf_counter() - started) * 1000)
        services._append_locking_head = one_statement  # type: ignore[assignment]
        for name, values in samples.items():
            values.sort()
            p95 = values[max(0, int(len(values) * 0.95) - 1)]
            print(
                f"{who:>8} {name:>9} {statistics.median(values):>8.2f} {p95:>8.2f} "
                f"{counts[name]:>10}",
                flush=True,
            )
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
