#!/usr/bin/env python3
"""Measure the partner API through real HTTP against gunicorn, on the data of generate_data.py.

    .venv/bin/python bench/generate_data.py [--scale S]
    .venv/bin/python bench/api_bench.py [--requests 500] [--workers 2] [--concurrency 4]

For the hub and for a typical agency: the inbox's first page, a deep page (the cursor of the
row halfway down the inbox) and the handoff detail (an audited read, so it writes an audit
event each time). Reports p50 / p95 latency of sequential requests, requests per second with
`--concurrency` clients at once, and SQL statements per request (gunicorn runs
bench/querycount_wsgi.py, which adds an X-Query-Count header). Prints a Markdown table and
writes var/bench/api_bench.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_data import DEFAULT_URL, KEYS_FILE, ROOT, django_env

RESULTS_FILE = ROOT / "var" / "bench" / "api_bench.json"


def start_gunicorn(url: str, port: int, workers: int, code: Path = ROOT) -> subprocess.Popen:
    """gunicorn on `code`'s checkout (another commit's, for a side-by-side run)."""
    env = {
        **django_env(url),
        "TSUNAGU_QUERY_COUNT": "1",
        "API_RATE_LIMIT": "1000000/min",
        "PYTHONPATH": str(code),
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--chdir",
            str(code / "bench"),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "querycount_wsgi:application",
        ],
        env=env,
        cwd=code,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/whoami/", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def deep_cursor(url: str, agency_slug: str, offset: int) -> str:
    """The cursor the API would hand out after `offset` rows of the agency's inbox."""
    import psycopg

    with psycopg.connect(url) as conn:
        sent_at, hop_id = conn.execute(
            "SELECT h.sent_at, h.id FROM relay_handoff h JOIN agencies_agency a "
            "ON a.id = h.to_agency_id WHERE a.slug = %s AND h.sent_at IS NOT NULL "
            "ORDER BY h.sent_at DESC, h.id DESC OFFSET %s LIMIT 1",
            (agency_slug, offset),
        ).fetchone()
    raw = json.dumps([sent_at.isoformat(), hop_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def measure(base: str, key: str, paths: list[str], n: int, warmup: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    queries: Counter[str] = Counter()
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for i in range(warmup + n):
            path = paths[i % len(paths)]
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
            if i >= warmup:
                latencies.append(elapsed * 1000)
                queries[int(response.headers["X-Query-Count"])] += 1
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 1),
        "queries": dict(sorted(queries.items())),
    }


def throughput(base: str, key: str, paths: list[str], n: int, concurrency: int) -> float:
    per_thread = max(1, n // concurrency)

    def run(offset: int) -> None:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as client:
            for i in range(per_thread):
                client.get(paths[(offset + i) % len(paths)]).raise_for_status()

    threads = [threading.Thread(target=run, args=(t * 7,)) for t in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return round(per_thread * concurrency / (time.perf_counter() - started), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--keys", type=Path, default=KEYS_FILE)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="the checkout gunicorn serves (default: this one)"
    )
    parser.add_argument(
        "--lists-only", action="store_true", help="the inbox pages only (no audited detail)"
    )
    parser.add_argument("--results", type=Path, default=RESULTS_FILE)
    args = parser.parse_args()
    data = json.loads(args.keys.read_text())
    if not args.port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{args.port}"
    server = start_gunicorn(args.database_url, args.port, args.workers, args.code)
    settings = {**vars(args), "keys": str(args.keys), "code": str(args.code)}
    settings["results"] = str(args.results)
    settings["load_before"] = os.getloadavg()
    results: dict[str, Any] = {"sizes": data["sizes"], "args": settings}
    try:
        for label, agency in data["agencies"].items():
            cursor = deep_cursor(args.database_url, agency["slug"], agency["inbox"] // 2)
            scenarios = {
                "inbox, first page": ["/api/v1/handoffs/?box=inbox"],
                f"inbox, page at row {agency['inbox'] // 2:,}": [
                    f"/api/v1/handoffs/?box=inbox&cursor={cursor}"
                ],
                "handoff detail": [f"/api/v1/handoffs/{i}/" for i in agency["detail_ids"]],
            }
            if args.lists_only:
                del scenarios["handoff detail"]
            for name, paths in scenarios.items():
                row = measure(base, agency["key"], paths, args.requests, args.warmup)
                row["rps"] = throughput(base, agency["key"], paths, args.requests, args.concurrency)
                results[f"{label} ({agency['inbox']:,} in inbox): {name}"] = row
                print(f"{label:8} {name:28} {row}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    settings["load_after"] = os.getloadavg()
    print(f"load average before {settings['load_before']}, after {settings['load_after']}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print("\n| scenario | p50 ms | p95 ms | req/s | queries per request |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, row in results.items():
        if name in ("sizes", "args"):
            continue
        counts = ", ".join(f"{q} ({n}x)" for q, n in row["queries"].items())
        print(f"| {name} | {row['p50_ms']} | {row['p95_ms']} | {row['rps']} | {counts} |")


if __name__ == "__main__":
    main()
