"""Benchmark: the handoff inbox page in-process, the fast path against the previous one (issue 14,
item 1), side by side in one process on the same rows.

* `fast`: the view's own path, per request from the selector on (relay.selectors with
  `annotated=False`, api.handoffs._list_rows: the listed columns as dicts, written through
  api.handoff_serializers.HANDOFF_LAYOUT) and DRF's JSON renderer.
* `fast+ann`: the same with the selector's default annotations built (the three basics
  subqueries that values() leaves out): the fast path before issue 14's follow-up.
* `previous`: the path it replaced: model instances with only() and select_related, then
  HandoffSerializer(many=True) (its direct to_representation) and the same renderer.
* `drf walk`: the same instances through DRF's generic field walk (the reference).
* `sql`: the page's query alone (EXPLAIN ANALYZE execution time).

For the hub and the typical agency of `bench/generate_data.py` (their slugs in
var/bench/keys.json), a 50-row first page, N turns in which each path runs once (interleaved,
so they share the machine's load), p50/p95 in ms; the load average is printed. Run after
generate_data.py, e.g.:

    .venv/bin/python bench/list_inprocess.py --database-url postgres://.../tsunagu_bench --n 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_data import DEFAULT_URL, KEYS_FILE, ROOT, django_env

PAGE = 50


def _times(run: Callable[[], Any], n: int) -> tuple[float, float]:
    for _ in range(min(10, n)):
        run()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(n * 0.95) - 1)]


def _interleaved(
    runs: list[tuple[str, Callable[[], Any]]], n: int
) -> dict[str, tuple[float, float]]:
    """Each path once per turn, N turns: the paths share whatever load the machine has."""
    for _name, run in runs:
        for _ in range(min(10, n)):
            run()
    samples: dict[str, list[float]] = {name: [] for name, _run in runs}
    for _ in range(n):
        for name, run in runs:
            started = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - started) * 1000)
    out = {}
    for name, values in samples.items():
        values.sort()
        out[name] = (statistics.median(values), values[max(0, int(n * 0.95) - 1)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--keys", type=Path, default=KEYS_FILE)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    os.environ.update(django_env(args.database_url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from rest_framework.renderers import JSONRenderer

    from agencies.models import Agency
    from api.handoff_serializers import HandoffSerializer, handoff_documents
    from api.handoffs import _list_rows
    from relay.selectors import handoffs_inbox_for

    keys = json.loads(args.keys.read_text())
    render = JSONRenderer().render
    print(f"load average {os.getloadavg()}")
    print(f"{'agency':>8} {'path':>9} {'p50 ms':>8} {'p95 ms':>8}")
    for who in ("hub", "typical"):
        agency = Agency.objects.get(slug=keys["agencies"][who]["slug"])
        rows = handoffs_inbox_for(agency=agency)

        def fast(agency: Agency = agency, annotated: bool = False) -> bytes:
            rows = handoffs_inbox_for(agency=agency, annotated=annotated)
            page = list(_list_rows(rows)[:PAGE])
            return render({"next": None, "results": handoff_documents(page, reader=agency.pk)})

        def fast_annotated(agency: Agency = agency) -> bytes:
            return fast(agency, annotated=True)

        def instances(rows: Any = rows) -> list[Any]:
            columns = [
                f"{fk}__{n}" for fk in ("from_agency", "to_agency") for n in ("slug", "name")
            ]
            model_columns = [
                *(f for f in HandoffSerializer.Meta.fields if f not in ("direction", "etag")),
                "from_agency",
                "to_agency",
            ]
            return list(
                rows.select_related(None)
                .select_related("from_agency", "to_agency")
                .only(*model_columns, *columns)[:PAGE]
            )

        def previous(agency: Agency = agency) -> bytes:
            data = HandoffSerializer(instances(), many=True, context={"agency": agency}).data
            return render({"next": None, "results": data})

        def drf(agency: Agency = agency) -> bytes:
            serializer = HandoffSerializer(context={"agency": agency})
            data = [serializer.generic_representation(h) for h in instances()]
            return render({"next": None, "results": data})

        assert fast() == fast_annotated() == previous() == drf(), "the same page"  # noqa: S101

        plain = handoffs_inbox_for(agency=agency, annotated=False)
        assert str(_list_rows(plain).query) == str(_list_rows(rows).query)  # noqa: S101
        sql, params = _list_rows(plain)[:PAGE].query.sql_with_params()

        sql_times: list[float] = []

        def explain(sql: str = sql, params: Any = params, sql_times: list = sql_times) -> None:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            sql_times.append(plan[0]["Execution Time"])

        paths = (
            ("drf walk", drf),
            ("previous", previous),
            ("fast+ann", fast_annotated),
            ("fast", fast),
        )
        for name, (p50, p95) in _interleaved(list(paths), args.n).items():
            print(f"{who:>8} {name:>9} {p50:>8.2f} {p95:>8.2f}", flush=True)
        _times(explain, args.n)
        sql_times.sort()
        print(
            f"{who:>8} {'sql':>9} {statistics.median(sql_times):>8.2f} "
            f"{sql_times[int(len(sql_times) * 0.95) - 1]:>8.2f}",
            flush=True,
        )
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
