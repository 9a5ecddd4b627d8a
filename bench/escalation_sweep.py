"""Benchmark: the escalation sweep over a large table of handoffs (issue 5), on the due-work
engine since issue 16: every hop has its acknowledgment clock as a duework_clock row (all
open, so the partial index holds N rows), and the sweep is duework's, for that kind.

Generates, on PostgreSQL, N handoffs (default 1,000,000) of which D (default 25,000) are due
for escalation, spread over the table and over 1,000 receiving agencies, then times:

* a sweep with nothing due (repeated; median and p95),
* the sweep that clears the due backlog (levels raised, audit events and outbox rows written,
  deliveries enqueued on commit to the configured broker), per sweep and per escalated hop,
* a sweep with nothing due again, right after.

Run against a database of its own (it is created and migrated if missing), e.g.:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tsunagu_bench_notify \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/5 CELERY_QUEUE=wt_notify_bench \\
    SECRET_KEY=bench-only-0123456789abcdefghijklmnopqrstuvwxyz \\
    .venv/bin/python bench/escalation_sweep.py --handoffs 1000000 --due 25000

Generation uses INSERT ... SELECT over generate_series from one template row made by the
real services, so every generated row is shaped like a real one. A second run reuses the
table and only resets the due rows (use --regenerate to start over).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")

TOKYO = ZoneInfo("Asia/Tokyo")
# The sweep's "now": Wednesday 2026-11-25 15:00 JST. Due rows are due before it.
SWEEP_AT = datetime(2026, 11, 25, 15, 0, tzinfo=TOKYO)
STRIDE = 40  # one handoff in STRIDE is due: 25,000 of 1,000,000


def ensure_database() -> None:
    """Create the benchmark database if it does not exist (never the test or main one)."""
    import environ
    import psycopg

    url = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    name = url["NAME"]
    if not name.startswith(("tsunagu_bench", "bench")):
        sys.exit(f"refusing to use database {name!r}: its name must start with tsunagu_bench")
    conninfo = {
        "host": url.get("HOST") or "127.0.0.1",
        "port": url.get("PORT") or 5432,
        "user": url.get("USER") or "postgres",
        "password": url.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**conninfo) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def wipe() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # The audit table is append-only by trigger; a benchmark database may be emptied.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "TRUNCATE duework_clock, relay_handoff, relay_referralsheet, relay_outboxmessage, "
            "relay_deliveryattempt, relay_inappnotification, relay_sheetaccess, "
            "consent_consentrecord, audit_auditevent, agencies_webhookendpoint, "
            "agencies_membership, agencies_agency, auth_group, auth_user RESTART IDENTITY CASCADE"
        )
        cursor.execute("SET session_replication_role = DEFAULT")


def generate(*, handoffs: int, sheets: int, agencies: int) -> None:
    """One real sent hop made by the services, then copies of it over generate_series."""
    from django.contrib.auth.models import Group, User
    from django.db import connection, transaction
    from django.utils import timezone

    from agencies.actors import Staff
    from agencies.models import Agency, AgencyKind, Membership, Role
    from consent.vocabulary import Purpose
    from notifications import signing
    from notifications.models import WebhookEndpoint
    from relay import services

    started = time.perf_counter()
    ward = Agency.objects.create(
        slug="bench-ward",
        name="ベンチ区相談窓口",
        kind=AgencyKind.WARD_DESK,
        municipality="足立区",
        intake_email="intake@bench-ward.example",
        requires_supervisor_approval=False,
    )
    groups = Group.objects.bulk_create(
        [Group(name=f"agency:bench-{i}") for i in range(agencies)], batch_size=2000
    )
    receivers = Agency.objects.bulk_create(
        [
            Agency(
                slug=f"bench-{i}",
                name=f"ベンチ機関{i}",
                kind=AgencyKind.NPO_FREE_SCHOOL,
                municipality="足立区",
                intake_email=f"intake@bench-{i}.example",
                group=group,
            )
            for i, group in enumerate(groups)
        ],
        batch_size=2000,
    )
    users = User.objects.bulk_create(
        [User(username=f"bench-sup-{i}", email=f"sup@bench-{i}.example") for i in range(agencies)]
        + [
            User(username="bench-counselor", email="counselor@bench-ward.example"),
            User(username="bench-supervisor", email="supervisor@bench-ward.example"),
        ],
        batch_size=2000,
    )
    Membership.objects.bulk_create(
        [
            Membership(user=user, agency=agency, role=Role.SUPERVISOR)
            for user, agency in zip(users, receivers, strict=False)
        ]
        + [
            Membership(user=users[-2], agency=ward, role=Role.COUNSELOR),
            Membership(user=users[-1], agency=ward, role=Role.SUPERVISOR),
        ],
        batch_size=2000,
    )
    # One receiver in five has a partner system with a webhook endpoint.
    WebhookEndpoint.objects.bulk_create(
        [
            WebhookEndpoint(
                agency=agency,
                url=f"https://partner-{i}.example/hooks/tsunagu",
                secret=signing.new_webhook_secret(),
            )
            for i, agency in enumerate(receivers)
            if i % 5 == 0
        ],
        batch_size=2000,
    )
    counselor = Staff.for_user(User.objects.get(username="bench-counselor"))
    with transaction.atomic():
        sheet = services.sheet_create(
            staff=counselor,
            data={
                "subject_initials": "B.M", "grade": "j2", "consulted_on": "2026-11-20",
                "consulter": "guardian", "consultation": "ベンチマーク用", "categories": [],
            },
        )  # fmt: skip
        services.consent_record(
            staff=counselor, sheet_id=sheet.pk, grantors=["guardian"], method="written",
            recipients=[receivers[0]], recipient_kinds=[], sections=["basic", "consultation"],
            purposes=[Purpose.SUPPORT], valid_until=timezone.now() + timedelta(days=3650),
        )  # fmt: skip
        draft = services.handoff_create(
            staff=counselor, sheet_id=sheet.pk, to_agency=receivers[0],
            sections=["basic", "consultation"], purpose=Purpose.SUPPORT,
        )  # fmt: skip
        template = services.handoff_submit(staff=counselor, handoff_id=draft.pk)
    first_receiver, last_receiver = receivers[0].pk, receivers[-1].pk
    if last_receiver - first_receiver != agencies - 1:
        sys.exit("agency ids are not contiguous")

    from relay.models import Handoff, ReferralSheet

    sheet_cols = [f.column for f in ReferralSheet._meta.concrete_fields if f.column != "id"]
    hop_cols = [f.column for f in Handoff._meta.concrete_fields if f.column != "id"]
    varying = {
        "sheet_id": "%(first_sheet)s + (g %% %(sheets)s)",
        # Spread over all receivers, due rows included (g is a multiple of STRIDE for them).
        "to_agency_id": "%(first_receiver)s + ((g / %(stride)s) * 7 + g) %% %(agencies)s",
        "status": (
            "CASE WHEN g %% %(stride)s < 4 THEN 'sent' "
            "WHEN g %% 3 = 0 THEN 'declined' ELSE 'completed' END"
        ),
        # Due rows are spread over the day before the sweep; open ones over the next ten
        # days; closed ones have no escalation time at all (not in the partial index).
        "next_escalation_at": (
            "CASE WHEN g %% %(stride)s = 0 THEN %(at)s - make_interval(secs => g %% 86400) "
            "WHEN g %% %(stride)s < 4 THEN %(at)s + make_interval(secs => 3600 + g %% 864000) "
            "END"
        ),
        # Of the due ones, 60 % wait for level 1, 30 % for level 2, 10 % for level 3.
        "escalation_level": (
            "CASE WHEN g %% %(stride)s <> 0 THEN 0 WHEN (g / %(stride)s) %% 10 < 6 THEN 0 "
            "WHEN (g / %(stride)s) %% 10 < 9 THEN 1 ELSE 2 END"
        ),
        "created_at": "%(at)s - make_interval(days => 30 + g %% 700)",
        "sent_at": "%(at)s - make_interval(days => 3 + g %% 700)",
        "ack_due_at": "%(at)s - make_interval(days => 1 + g %% 700)",
    }
    with connection.cursor() as cursor:
        cursor.execute(
            # Column names come from the models, values are parameters.
            f"INSERT INTO relay_referralsheet ({', '.join(sheet_cols)}) "  # noqa: S608
            f"SELECT {', '.join('t.' + c for c in sheet_cols)} "
            "FROM relay_referralsheet t, generate_series(1, %s) g WHERE t.id = %s",
            [sheets - 1, sheet.pk],
        )
        cursor.execute("SELECT min(id) FROM relay_referralsheet")
        first_sheet = cursor.fetchone()[0]
        select = ", ".join(varying.get(c, "t." + c) for c in hop_cols)
        cursor.execute(
            f"INSERT INTO relay_handoff ({', '.join(hop_cols)}) SELECT {select} "  # noqa: S608
            "FROM relay_handoff t, generate_series(1, %(n)s) g WHERE t.id = %(template)s",
            {
                "n": handoffs - 1,
                "template": template.pk,
                "first_sheet": first_sheet,
                "sheets": sheets,
                "first_receiver": first_receiver,
                "agencies": agencies,
                "stride": STRIDE,
                "at": SWEEP_AT,
            },
        )
        # The template itself is not part of the measured backlog.
        cursor.execute(
            "UPDATE relay_handoff SET status = 'completed', next_escalation_at = NULL "
            "WHERE id = %s",
            [template.pk],
        )
        # One open acknowledgment clock per hop: the due ones at their hop's escalation
        # time, the others spread over the next ten days.
        cursor.execute("DELETE FROM duework_clock")
        cursor.execute(
            "INSERT INTO duework_clock (kind, subject_type_id, subject_id, subject_key, "
            "owner_agency_id, owner_role, owner_user_id, sheet_id, context, started_at, due_at, "
            "next_fire_at, level, fired_count, last_fired_at, policy, state, stopped_at, "
            "stop_reason, created_at, updated_at) "
            "SELECT 'handoff.ack', %(ct)s, h.id, 'relay.handoff:' || h.id, h.to_agency_id, "
            "'intake', NULL, h.sheet_id, jsonb_build_object('from_agency_id', h.from_agency_id,"
            " 'to_agency_id', h.to_agency_id), h.sent_at, h.ack_due_at, "
            "COALESCE(h.next_escalation_at, %(at)s + make_interval(secs => 3600 + h.id %% 864000)),"
            " h.escalation_level, 0, NULL, h.escalation_policy, 'open', NULL, '', now(), now() "
            "FROM relay_handoff h",
            {"ct": _handoff_type_id(), "at": SWEEP_AT},
        )
        cursor.execute("VACUUM ANALYZE relay_handoff")
        cursor.execute("VACUUM ANALYZE relay_referralsheet")
        cursor.execute("VACUUM ANALYZE duework_clock")
    print(f"generated {handoffs:,} handoffs in {time.perf_counter() - started:.1f} s")


def _handoff_type_id() -> int:
    from django.contrib.contenttypes.models import ContentType

    from relay.models import Handoff

    return ContentType.objects.get_for_model(Handoff).pk


def reset_due() -> None:
    """Put the due rows back to their generated state, so the sweep can be measured again."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM relay_handoff")
        first = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE relay_handoff h SET status = 'sent', "
            "next_escalation_at = %(at)s - make_interval(secs => g %% 86400), "
            "escalation_level = CASE WHEN (g / %(stride)s) %% 10 < 6 THEN 0 "
            "  WHEN (g / %(stride)s) %% 10 < 9 THEN 1 ELSE 2 END "
            "FROM (SELECT id, id - %(first)s AS g FROM relay_handoff) s "
            "WHERE h.id = s.id AND s.g %% %(stride)s = 0 AND s.g > 0",
            {"at": SWEEP_AT, "stride": STRIDE, "first": first},
        )
        cursor.execute(
            "UPDATE duework_clock c SET next_fire_at = h.next_escalation_at, "
            "level = h.escalation_level, fired_count = 0, last_fired_at = NULL, state = 'open' "
            "FROM relay_handoff h WHERE c.kind = 'handoff.ack' AND c.subject_id = h.id "
            "AND h.status = 'sent' AND h.next_escalation_at <= %(at)s",
            {"at": SWEEP_AT},
        )
        cursor.execute("TRUNCATE relay_outboxmessage, relay_inappnotification CASCADE")
        cursor.execute("VACUUM ANALYZE relay_handoff")
        cursor.execute("VACUUM ANALYZE duework_clock")


def empty_sweeps(at: datetime, runs: int) -> dict[str, float]:
    from relay.services.escalations import escalate_due

    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        if escalate_due(now=at):
            sys.exit("a sweep meant to find nothing due escalated something")
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
        "max_ms": round(timings[-1], 2),
    }


def explain(at: datetime) -> str:
    from django.db import connection, transaction

    from duework.models import Clock

    with transaction.atomic():
        # The claim query of duework.services.sweep_due.
        query = (
            Clock.objects.select_for_update(skip_locked=True)
            .filter(state="open", next_fire_at__lte=at, kind__in=["handoff.ack"])
            .order_by("next_fire_at", "id")
            .values_list("id", "next_fire_at")[:1000]
        )
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handoffs", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=25_000, help="(handoffs / 40 by design)")
    parser.add_argument("--sheets", type=int, default=100_000)
    parser.add_argument("--agencies", type=int, default=1_000)
    parser.add_argument("--empty-runs", type=int, default=50)
    parser.add_argument(
        "--workers", type=int, default=None, help="sweeper threads (default: the setting)"
    )
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.handoffs // STRIDE != args.due:
        sys.exit(f"--due must be --handoffs / {STRIDE} (one in {STRIDE} is due)")

    ensure_database()
    setup_django()
    from django.conf import settings
    from django.db import connection

    from audit.models import AuditEvent
    from notifications.models import OutboxMessage
    from relay.models import Handoff
    from relay.services.escalations import escalate_due

    count = Handoff.objects.count()
    if args.regenerate or count != args.handoffs:
        wipe()
        generate(handoffs=args.handoffs, sheets=args.sheets, agencies=args.agencies)
    else:
        reset_due()
    from duework.models import Clock

    due = Clock.objects.filter(next_fire_at__lte=SWEEP_AT, state="open").count()
    open_clocks = Clock.objects.filter(state="open").count()
    print(
        f"{Handoff.objects.count():,} handoffs, {open_clocks:,} open clocks, "
        f"{due:,} due at {SWEEP_AT.isoformat()}"
    )

    before = empty_sweeps(SWEEP_AT - timedelta(days=2), args.empty_runs)
    print(f"sweep with nothing due: {before}")
    print(explain(SWEEP_AT))

    queries = 0

    def count_queries(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    # A sweeper process loads the holiday tables once (about 1.7 s on this machine, for every
    # country the library knows); the figure below is the steady state of a running worker.
    # Likewise the URL resolver (the notifications' links), on the first reverse().
    from duework.business_time import _jp_holidays
    from notifications.notify import _web_path_template

    _jp_holidays(SWEEP_AT.year)
    _web_path_template()
    audit_before = AuditEvent.objects.count()
    with connection.execute_wrapper(count_queries):
        started, cpu = time.perf_counter(), time.process_time()
        escalated = escalate_due(now=SWEEP_AT, workers=args.workers)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    figures = {
        "handoffs": Handoff.objects.count(),
        "open_clocks": open_clocks,
        "due": due,
        "escalated": escalated,
        "workers": args.workers or settings.TSUNAGU["ESCALATION_SWEEP_WORKERS"],
        "sweep_s": round(elapsed, 2),
        "sweep_python_cpu_s": round(cpu, 2),
        "per_handoff_ms": round(elapsed * 1000 / max(escalated, 1), 3),
        # The sweeping thread's statements (helper threads have connections of their own).
        "queries_main_thread": queries,
        "audit_events": AuditEvent.objects.count() - audit_before,
        "outbox_rows": OutboxMessage.objects.count(),
        "empty_before": before,
        "empty_after": empty_sweeps(SWEEP_AT, args.empty_runs),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    purge_queue()


def purge_queue() -> None:
    """Drop the deliveries the sweep enqueued: no worker runs in this benchmark."""
    from django.conf import settings

    from tsunagu.celery import app

    with app.connection_for_write() as conn:
        dropped = conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    print(f"purged {dropped} enqueued deliveries from {settings.CELERY_TASK_DEFAULT_QUEUE}")


if __name__ == "__main__":
    main()
