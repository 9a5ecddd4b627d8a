"""Benchmark: the handoff inbox page in-process, the prepared page against the previous paths and
the guardian peer (issue 14, items 1 and 6), side by side in one process on the same rows.

* `prepared`: the view's path on PostgreSQL (api.handoff_page): the statement built once per
  shape by the selector and Django's compiler, run with the request's values, the timestamps
  written as the document's text by PostgreSQL; the document written from the rows
  (HANDOFF_LAYOUT) and DRF's JSON renderer.
* `values`: the path before it (and still SQLite's and q/grade's): per request from the
  selector on (relay.selectors with `annotated=False`, api.handoffs._list_rows: the listed
  columns as dicts through values()), the same layout and renderer.
* `previous`: the path values() replaced: model instances with only() and select_related,
  then HandoffSerializer(many=True) (its direct to_representation) and the same renderer.
* `drf walk`: the same instances through DRF's generic field walk (the reference).
* `guardian`: what a django-guardian user would write: get_objects_for_user(user,
  'relay.view_handoff', klass=Handoff) for a user of the agency's group, narrowed to the
  inbox, newest sent first, 50 rows with their agencies, through the ModelSerializer's walk.
* `select 1`: a round trip to PostgreSQL and back through Django's cursor, nothing more (the
  floor of any page on this machine at that moment; not one of the paths).
* `sql`: the previous page's statement alone (EXPLAIN ANALYZE execution time); `sql prep`:
  the prepared statement's (with the timestamps' formatting); `sql peer`: the guardian peer's.

For the hub and the typical agency of `bench/generate_data.py` (their slugs in
var/bench/keys.json), a 50-row first page, N turns in which each path runs once (interleaved,
so they share the machine's load), p50/p95 in ms; the load average is printed. The script
asserts every path writes the same bytes. The peer's user is made inside a transaction that is
rolled back. Run after generate_data.py, e.g.:

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


def _explain(connection: Any, sql: str, params: Any, n: int) -> tuple[float, float]:
    """EXPLAIN ANALYZE's execution time of a statement: p50/p95 of N runs (after warm-up)."""
    times: list[float] = []

    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        times.append(plan[0]["Execution Time"])

    _times(run, n)
    times = times[-n:]
    times.sort()
    return statistics.median(times), times[max(0, int(n * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--keys", type=Path, default=KEYS_FILE)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument(
        "--paths",
        default="select 1,guardian,drf walk,previous,values,prepared",
        help="which paths to time, comma-separated",
    )
    parser.add_argument("--agencies", default="hub,typical")
    parser.add_argument("--profile", type=Path, help="cProfile N prepared pages into this file")
    args = parser.parse_args()
    os.environ.update(django_env(args.database_url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from guardian.shortcuts import get_objects_for_user
    from rest_framework.renderers import JSONRenderer

    from agencies.models import Agency
    from api import handoff_page
    from api.handoff_serializers import HandoffSerializer, handoff_documents
    from api.handoffs import _list_rows
    from relay.models import Handoff
    from relay.selectors import handoffs_inbox_for

    keys = json.loads(args.keys.read_text())
    render = JSONRenderer().render
    wanted = args.paths.split(",")
    print(f"load average {os.getloadavg()}")
    print(f"{'agency':>8} {'path':>9} {'p50 ms':>8} {'p95 ms':>8}")
    with transaction.atomic():
        for who in args.agencies.split(","):
            agency = Agency.objects.get(slug=keys["agencies"][who]["slug"])
            rows = handoffs_inbox_for(agency=agency)
            peer_user = get_user_model().objects.create(username=f"bench-peer-{who}")
            peer_user.groups.add(agency.group)

            def prepared(agency: Agency = agency) -> bytes:
                handoff_page.page_order("inbox")
                page = handoff_page.handoff_page_rows(
                    box="inbox",
                    agency_id=agency.pk,
                    statuses=None,
                    updated_since=None,
                    after=None,
                    limit=PAGE + 1,
                )[:PAGE]
                return render({"next": None, "results": handoff_documents(page, reader=agency.pk)})

            def values(agency: Agency = agency) -> bytes:
                rows = handoffs_inbox_for(agency=agency, annotated=False)
                page = list(_list_rows(rows)[: PAGE + 1])[:PAGE]
                return render({"next": None, "results": handoff_documents(page, reader=agency.pk)})

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

            def peer_rows(agency: Agency = agency, user: Any = peer_user) -> Any:
                return (
                    get_objects_for_user(user, "relay.view_handoff", klass=Handoff)
                    .filter(to_agency=agency, sent_at__isnull=False)
                    .select_related("from_agency", "to_agency", "service")
                    .order_by("-sent_at", "-id")[:PAGE]
                )

            def guardian(agency: Agency = agency) -> bytes:
                serializer = HandoffSerializer(context={"agency": agency})
                data = [serializer.generic_representation(h) for h in peer_rows()]
                return render({"next": None, "results": data})

            def round_trip() -> bytes:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    cursor.fetchall()
                return b""

            paths = {
                "select 1": round_trip,
                "guardian": guardian,
                "drf walk": drf,
                "previous": previous,
                "values": values,
                "prepared": prepared,
            }
            reference = values()
            for name, run in paths.items():
                if name == "select 1":
                    continue
                assert run() == reference, f"{name}: the same page"  # noqa: S101

            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.n):
                    prepared()
                profiler.disable()
                profiler.dump_stats(f"{args.profile}.{who}")

            chosen = [(name, paths[name]) for name in wanted]
            results = _interleaved(chosen, args.n)
            for name, (p50, p95) in results.items():
                print(f"{who:>8} {name:>9} {p50:>8.2f} {p95:>8.2f}", flush=True)

            plain = _list_rows(handoffs_inbox_for(agency=agency, annotated=False))
            statement = handoff_page._statement(
                "inbox",
                0,
                False,
                False,
                PAGE + 1,
                handoff_page.timezone.get_current_timezone(),
                "default",
            )
            params = [
                agency.pk if slot == "agency" else constant
                for slot, constant in zip(statement.slots, statement.constants, strict=True)
            ]
            sqls = {
                "sql": plain[: PAGE + 1].query.sql_with_params(),
                "sql prep": (statement.sql, params),
                "sql peer": peer_rows().query.sql_with_params(),
            }
            sql_p50s = {}
            for name, (sql, sql_params) in sqls.items():
                p50, p95 = _explain(connection, sql, sql_params, args.n)
                sql_p50s[name] = p50
                print(f"{who:>8} {name:>9} {p50:>8.2f} {p95:>8.2f}", flush=True)
            if "prepared" in results:
                fast = results["prepared"][0]
                base = results.get("values", (float("nan"),))[0]
                peer = results.get("guardian", (float("nan"),))[0]
                sql_p50 = sql_p50s["sql"]
                print(
                    f"{who:>8} prepared vs values {base / fast:.2f}x, vs guardian "
                    f"{peer / fast:.2f}x; goal 2 x sql + 1 ms = {2 * sql_p50 + 1:.2f} ms",
                    flush=True,
                )
        transaction.set_rollback(True)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
