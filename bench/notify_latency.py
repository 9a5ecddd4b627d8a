"""Benchmark: from the commit of a send to the webhook arriving at the receiver (issue 5).

Starts a local HTTP receiver and one Celery worker (`--pool`, `--concurrency`: by default
prefork with one process, as before; `--pool threads --concurrency 8` is what compose runs) on
the configured database and broker, prepares N draft handoffs, then sends them at a steady rate
(each send a real handoff_submit: consent check, state change, audit, access grant, outbox
rows for e-mail and webhook) and measures, for every send, the time from the moment its
transaction committed to the moment its signed webhook arrived. Prints p50 / p95 / p99, and
whether the worker kept up: the backlog (sends committed whose webhook has not arrived) sampled
every second, and p95 of the first and the last third of the sends (a worker that falls behind
shows a growing backlog and a last third much slower than the first).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tsunagu_bench_latency \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/5 CELERY_QUEUE=wt_notify_bench \\
    SECRET_KEY=bench-only-0123456789abcdefghijklmnopqrstuvwxyz \\
    .venv/bin/python bench/notify_latency.py --sends 1000 --rate 20

`--drain` and `--burst N` measure capacity instead: the worker stops consuming while the sends
(`--drain`) or N notifications committed in a few transactions (`--burst`, no sender in the
way) pile up, then consumes them all; `--burst` reports deliveries per second until every row is
delivered, and the worker's CPU time per delivery (which bounds it on a busy machine).

Without DATABASE_URL it runs on the embedded default (SQLite, filesystem broker) under a
temporary var/ directory.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")
# The receiver is on 127.0.0.1 over http: allowed for this benchmark only.
os.environ["WEBHOOK_ALLOW_PRIVATE"] = "true"
os.environ["WEBHOOK_ALLOW_HTTP"] = "true"
os.environ.setdefault("LOG_LEVEL", "WARNING")


class Receiver:
    """Records when each webhook-id first arrives (and checks its signature)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.bad_signatures = 0
        self.secret = ""
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                now = time.time()
                headers = {k.lower(): v for k, v in self.headers.items()}
                from notifications.signing import verify_signature

                with receiver.lock:
                    if not verify_signature(receiver.secret, headers, body):
                        receiver.bad_signatures += 1
                    receiver.arrived.setdefault(headers.get("webhook-id", ""), now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}/hooks"


def ensure_database() -> None:
    """On PostgreSQL, create the benchmark database if it does not exist."""
    if not os.environ.get("DATABASE_URL"):
        return
    import environ
    import psycopg

    url = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    name = url["NAME"]
    if not name.startswith(("tsunagu_bench", "bench")):
        sys.exit(f"refusing to use database {name!r}: its name must start with tsunagu_bench")
    with psycopg.connect(
        host=url.get("HOST") or "127.0.0.1",
        port=url.get("PORT") or 5432,
        user=url.get("USER") or "postgres",
        password=url.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


WORKER_NAME = f"bench-{os.getpid()}@{socket.gethostname()}"


def start_worker(log_path: Path, *, pool: str, concurrency: int) -> subprocess.Popen:
    from django.conf import settings

    log = log_path.open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tsunagu",
            "worker",
            "-P",
            pool,
            "-c",
            str(concurrency),
            "-Q",
            settings.CELERY_TASK_DEFAULT_QUEUE,
            "-n",
            WORKER_NAME,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ],
        cwd=ROOT,
        env={**os.environ, "EMAIL_FILE_PATH": str(log_path.parent / "mail")},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while b" ready." not in log_path.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            sys.exit("worker did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.1)
    return worker


def prepare(sends: int, receiver: Receiver, senders: int) -> tuple[object, list[int]]:
    """A ward desk, an NPO with a webhook endpoint at the receiver, and N draft hops."""
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.utils import timezone

    from agencies.actors import Staff
    from agencies.models import Agency, AgencyKind, Membership, Role
    from consent.vocabulary import Purpose
    from notifications import services as webhooks
    from relay import services

    stamp = str(int(time.time()))
    ward = Agency.objects.create(
        slug=f"lat-ward-{stamp}", name="区相談窓口", kind=AgencyKind.WARD_DESK,
        municipality="足立区", requires_supervisor_approval=False,
    )  # fmt: skip
    npo = Agency.objects.create(
        slug=f"lat-npo-{stamp}", name="NPO", kind=AgencyKind.NPO_FREE_SCHOOL,
        municipality="足立区", intake_email=f"intake@lat-npo-{stamp}.example",
    )  # fmt: skip
    counselor = User.objects.create(username=f"lat-counselor-{stamp}")
    supervisor = User.objects.create(username=f"lat-supervisor-{stamp}")
    Membership.objects.create(user=counselor, agency=ward, role=Role.COUNSELOR)
    Membership.objects.create(user=supervisor, agency=npo, role=Role.SUPERVISOR)
    staff = Staff.for_user(counselor)
    configured = webhooks.webhook_configure(staff=Staff.for_user(supervisor), url=receiver.url)
    receiver.secret = configured.secret or ""
    # One sheet per sender thread: a send locks its sheet until it commits, so senders on
    # one sheet would wait for each other.
    sheets = []
    for _ in range(senders):
        sheet = services.sheet_create(
            staff=staff,
            data={
                "subject_initials": "L.T", "grade": "j1", "consulted_on": "2026-11-20",
                "consulter": "guardian", "consultation": "benchmark", "categories": [],
            },
        )  # fmt: skip
        services.consent_record(
            staff=staff, sheet_id=sheet.pk, grantors=["guardian"], method="written",
            recipients=[npo], recipient_kinds=[], sections=["basic", "consultation"],
            purposes=[Purpose.SUPPORT], valid_until=timezone.now() + timedelta(days=30),
        )  # fmt: skip
        sheets.append(sheet)
    drafts = [
        services.handoff_create(
            staff=staff,
            sheet_id=sheets[n % senders].pk,
            to_agency=npo,
            sections=["basic", "consultation"],
            purpose=Purpose.SUPPORT,
            # Many hops of one sheet to one agency: refused as duplicates unless deliberate
            # (each such send is audited as deliberate; the benchmark measures delivery).
            deliberate=True,
        ).pk
        for n in range(sends)
    ]
    return staff, drafts


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children (a prefork worker's pool)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if entry.name == str(pid) or fields[1] == str(pid):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="sends per second")
    parser.add_argument("--warmup", type=int, default=20, help="sends not measured, first")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes/threads")
    parser.add_argument(
        "--drain",
        action="store_true",
        help="capacity instead of latency: commit all sends while the worker does not consume,"
        " then let it consume and time how fast it empties the queue",
    )
    parser.add_argument(
        "--burst",
        type=int,
        metavar="N",
        help="capacity of one worker alone: while it does not consume, commit N notifications"
        " of a hop (each a webhook and an e-mail, as a send makes) in a few transactions, then"
        " let it consume and time until every row is delivered",
    )
    parser.add_argument(
        "--webhook-only", action="store_true", help="with --burst: webhook rows only"
    )
    parser.add_argument(
        "--senders", type=int, default=1, help="threads sending (each on its own sheet)"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tsunagu-latency-"))
    if not os.environ.get("DATABASE_URL"):
        os.environ["TSUNAGU_VAR_DIR"] = str(workdir / "var")
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from notifications.models import Channel, OutboxMessage
    from relay.services import handoff_submit
    from tsunagu.celery import app

    call_command("migrate", verbosity=0)
    with app.connection_for_write() as conn:  # nothing left over from an earlier run
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    receiver = Receiver()
    staff, drafts = prepare(args.warmup + (0 if args.burst else args.sends), receiver, args.senders)
    worker = start_worker(workdir / "worker.log", pool=args.pool, concurrency=args.concurrency)
    # Warm-up: the worker's first tasks import modules and open connections.
    for draft in drafts[: args.warmup]:
        handoff_submit(staff=staff, handoff_id=draft)
    drafts_sent, drafts = drafts[: args.warmup], drafts[args.warmup :]
    if args.drain or args.burst:  # the worker stops consuming; what follows piles up
        app.control.cancel_consumer(
            app.conf.task_default_queue, destination=[WORKER_NAME], reply=True
        )
    deadline = time.monotonic() + args.timeout
    while len(receiver.arrived) < args.warmup and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    committed: dict[str, float] = {}
    submit_ms: list[float] = []
    backlog: list[int] = []  # committed, webhook not yet arrived: once a second

    def sample_backlog() -> None:
        with receiver.lock:
            backlog.append(len(committed.keys() - receiver.arrived.keys()))

    lock = threading.Lock()

    def send(draft: int) -> None:
        at: list[float] = []
        began = time.perf_counter()
        # The outer transaction commits the send; our callback, registered first, runs
        # first after the commit, before the send's own enqueue.
        with transaction.atomic():
            transaction.on_commit(lambda at=at: at.append(time.time()))
            handoff_submit(staff=staff, handoff_id=draft)
        elapsed = (time.perf_counter() - began) * 1000
        webhook_id = (
            OutboxMessage.objects.filter(handoff_id=draft, channel=Channel.WEBHOOK)
            .values_list("id", flat=True)
            .get()
        )
        with lock, receiver.lock:
            submit_ms.append(elapsed)
            committed[str(webhook_id)] = at[0]

    def sender(k: int) -> None:
        # Sender k sends drafts k, k + senders, ... each at its slot of the steady rate.
        try:
            for n in range(k, len(drafts), args.senders):
                time.sleep(max(0.0, started + n * interval - time.monotonic()))
                send(drafts[n])
        finally:
            connection.close()

    try:
        if args.burst:
            burst(args, staff, drafts_sent, app, receiver, worker.pid)
            return
        if args.drain:
            drain(args, drafts, app, send, receiver, committed)
            return
        interval = 1.0 / args.rate
        started = time.monotonic()
        threads = [
            threading.Thread(target=sender, args=(k,), daemon=True) for k in range(args.senders)
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started) % 1.0))
            sample_backlog()
        sending_s = time.monotonic() - started
        backlog_at_end = len(committed.keys() - receiver.arrived.keys())
        deadline = time.monotonic() + args.timeout
        while len(receiver.arrived.keys() & committed.keys()) < len(committed):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        drain_s = time.monotonic() - started - sending_s
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(app.conf.task_default_queue)

    if not committed:
        sys.exit("nothing was sent")
    latencies = [  # in the order of the sends (dicts keep insertion order)
        (receiver.arrived[i] - committed[i]) * 1000 for i in committed if i in receiver.arrived
    ]
    third = max(1, len(latencies) // 3)
    figures = {
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "broker": app.conf.broker_url.split("://")[0],
        "sends": len(committed),
        "rate_per_s": args.rate,
        "sending_s": round(sending_s, 1),
        "achieved_rate_per_s": round(len(committed) / sending_s, 1),
        "senders": args.senders,
        "delivered": len(latencies),
        "bad_signatures": receiver.bad_signatures,
        "latency_ms": {}
        if not latencies
        else {
            "p50": round(percentile(latencies, 50), 1),
            "p95": round(percentile(latencies, 95), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(max(latencies), 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
        "pool": f"{args.pool} -c {args.concurrency}",
        "kept_up": {
            "backlog_max": max(backlog, default=0),
            "backlog_last_s": backlog[-1] if backlog else 0,
            "backlog_at_end_of_sending": backlog_at_end,
            "drain_after_sending_s": round(drain_s, 1),
            "p95_first_third_ms": round(percentile(latencies[:third], 95), 1)
            if latencies
            else None,
            "p95_last_third_ms": round(percentile(latencies[-third:], 95), 1)
            if latencies
            else None,
        },
        "send_ms": {
            "p50": round(percentile(submit_ms, 50), 1),
            "p95": round(percentile(submit_ms, 95), 1),
        },
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def drain(args, drafts, app, send, receiver, committed) -> None:  # type: ignore[no-untyped-def]
    """--drain: all sends committed first, then the worker consumes: deliveries per second."""
    for draft in drafts:
        send(draft)
    started = time.time()
    app.control.add_consumer(app.conf.task_default_queue, destination=[WORKER_NAME], reply=True)
    deadline = time.monotonic() + args.timeout
    while len(receiver.arrived.keys() & committed.keys()) < len(committed):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    arrived = [receiver.arrived[i] for i in committed if i in receiver.arrived]
    took = max(arrived) - started if arrived else float("nan")
    figures = {
        "mode": "drain",
        "pool": f"{args.pool} -c {args.concurrency}",
        "sends": len(committed),
        "webhooks_arrived": len(arrived),
        "drain_s": round(took, 2),
        # Each send is two deliveries (webhook and e-mail), interleaved in the queue.
        "sends_per_s": round(len(arrived) / took, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def burst(args, staff, hop_ids, app, receiver, worker_pid) -> None:  # type: ignore[no-untyped-def]
    """--burst N: N notifications committed while the worker does not consume, then timed from
    the moment it consumes again until every one of their outbox rows is delivered."""
    from django.db import transaction
    from django.db.models import Max

    from notifications.models import Channel, DeliveryState, OutboxMessage
    from notifications.notify import handoff_payload, notify_agency
    from relay.models import Handoff

    hops = list(Handoff.objects.filter(pk__in=hop_ids).select_related("from_agency", "to_agency"))
    channels = (Channel.WEBHOOK,) if args.webhook_only else (Channel.EMAIL, Channel.WEBHOOK)
    ids: list[str] = []
    webhook_ids: set[str] = set()
    for start in range(0, args.burst, 100):
        with transaction.atomic():
            for n in range(start, min(args.burst, start + 100)):
                hop = hops[n % len(hops)]
                for message in notify_agency(
                    "handoff.sent",
                    agency=hop.to_agency,
                    handoff=hop,
                    payload=handoff_payload("handoff.sent", hop),
                    actor=staff.audit_actor(),
                    channels=channels,
                    in_app=False,
                ):
                    ids.append(str(message.pk))
                    if message.channel == Channel.WEBHOOK:
                        webhook_ids.add(str(message.pk))
    time.sleep(1)  # the last transaction's rows are in the queue
    load_before = [round(x, 2) for x in os.getloadavg()]
    cpu_before = cpu_seconds(worker_pid)
    started = time.time()
    app.control.add_consumer(app.conf.task_default_queue, destination=[WORKER_NAME], reply=True)
    deadline = time.monotonic() + args.timeout
    rows = OutboxMessage.objects.filter(pk__in=ids)
    while rows.filter(state=DeliveryState.PENDING).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    cpu = cpu_seconds(worker_pid) - cpu_before
    done = rows.filter(state=DeliveryState.DELIVERED)
    last = done.aggregate(last=Max("delivered_at"))["last"]
    took = last.timestamp() - started if last else float("nan")
    arrived = [receiver.arrived[i] for i in webhook_ids if i in receiver.arrived]
    webhooks_took = max(arrived) - started if arrived else float("nan")
    delivered = done.count()
    figures = {
        "mode": "burst",
        "pool": f"{args.pool} -c {args.concurrency}",
        "notifications": args.burst,
        "rows": len(ids),
        "delivered": delivered,
        "webhooks_arrived": len(arrived),
        "bad_signatures": receiver.bad_signatures,
        "all_delivered_s": round(took, 2),
        "deliveries_per_s": round(delivered / took, 1),
        # A send makes one webhook and one e-mail: this is what "sends per second" means.
        "notifications_per_s": round(args.burst / took, 1),
        "webhooks_per_s": round(len(arrived) / webhooks_took, 1),
        # The worker's CPU time per delivery: what bounds it on a busy machine.
        "worker_cpu_ms_per_delivery": round(1000 * cpu / max(1, delivered), 2),
        "load_average_before": load_before,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
