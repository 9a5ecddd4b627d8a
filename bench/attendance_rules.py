"""Benchmark: the early-response rules of a municipality (issue 15).

Target size: 30,000 pupils (50 schools of 600, classes of 30) × 200 school days. Times:

* the nightly re-evaluation of every school (`attendance.services.schools_evaluate`, what the
  `attendance-evaluate` beat entry runs), after a first evaluation created the actions — the
  figure the issue asks for (< 30 s at full size); the first evaluation is reported too;
* one class's day entered through the entry service (`attendance_enter`: validation, upsert,
  audit, re-evaluation of the class's pupils), repeated over fresh days: median and p95
  (< 200 ms at full size).

Attendance is generated in bulk (2 % of pupils absent on most days, 2 % of school days a
random absence for everyone else, a handful with runs of 3–5 days), then evaluated by the
real services. Time is frozen on 2026-03-10 (school year 2025).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tsunagu_bench_attendance \\
    SECRET_KEY=bench-only-0123456789abcdefghijklmnopqrstuvwxyz \\
    .venv/bin/python bench/attendance_rules.py --pupils 30000 --days 200

Without DATABASE_URL it runs on SQLite under a temporary var/. The database is migrated;
its name must start with tsunagu_bench (it is filled with generated schools).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 3, 10, 18, 0, tzinfo=TOKYO)
YEAR = 2025
MUNICIPALITY = "ベンチ市"


def _setup(args: argparse.Namespace) -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ["TSUNAGU_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-attendance-")
    else:
        name = os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
        if not name.startswith("tsunagu_bench"):
            sys.exit(f"refusing to use database {name!r}: its name must start with tsunagu_bench")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _generate(args: argparse.Namespace) -> tuple[list, list[date]]:
    """Schools, classes, posts, pupils and the records of all but the last `entries` days."""
    from django.contrib.auth import get_user_model

    from agencies.models import Agency, AgencyKind, Membership, Role
    from attendance.calendar import school_calendar, school_days
    from attendance.models import AttendanceRecord, Classroom, Enrolment, Pupil, StaffPost

    rng = random.Random(15)
    Agency.objects.filter(slug__startswith="bench-school-").exists() and sys.exit(
        "the database already holds bench schools: use a fresh database"
    )
    user_model = get_user_model()
    schools = []
    per_school = min(args.pupils, args.school_size)
    count = max(1, args.pupils // per_school)
    for s in range(count):
        school = Agency.objects.create(
            slug=f"bench-school-{s}",
            name=f"ベンチ市立第{s}小学校",
            kind=AgencyKind.SCHOOL,
            municipality=MUNICIPALITY,
            intake_email=f"s{s}@bench.invalid",
        )
        principal = user_model.objects.create(username=f"bench-principal-{s}")
        Membership.objects.create(user=principal, agency=school, role=Role.SUPERVISOR)
        StaffPost.objects.create(user=principal, school=school, role="principal")
        schools.append(school)
    calendar = school_calendar(schools[0], within=(date(YEAR, 4, 1), date(YEAR + 1, 3, 31)))
    days = list(school_days(calendar, date(YEAR, 4, 7), date(YEAR + 1, 3, 31)))[: args.days]
    if days[-1] >= NOW.date():
        sys.exit("too many days for the frozen date")
    generated = days[: len(days) - args.entries]
    first_rooms = []
    for s, school in enumerate(schools):
        rooms = [
            Classroom.objects.create(
                school=school,
                school_year=YEAR,
                grade=1 + c // 4 % 6,
                name=str(1 + c % 4),
            )
            for c in range(per_school // args.class_size)
        ]
        teacher = user_model.objects.create(username=f"bench-teacher-{s}")
        Membership.objects.create(user=teacher, agency=school, role=Role.COUNSELOR)
        StaffPost.objects.create(
            user=teacher, school=school, role="homeroom", classroom=rooms[0], grade=rooms[0].grade
        )
        first_rooms.append((teacher, rooms[0]))
        pupils = Pupil.objects.bulk_create(
            Pupil(school=school, school_number=f"{s}-{n}", initials="A.B")
            for n in range(len(rooms) * args.class_size)
        )
        Enrolment.objects.bulk_create(
            Enrolment(
                pupil=p,
                classroom=rooms[n // args.class_size],
                school_year=YEAR,
                number=n % args.class_size + 1,
            )
            for n, p in enumerate(pupils)
        )
        batch = []
        for p in pupils:
            chronic = rng.random() < 0.02
            run_at = rng.randrange(len(generated)) if rng.random() < 0.05 else -10
            for i, d in enumerate(generated):
                absent = (
                    (chronic and rng.random() < 0.6)
                    or rng.random() < 0.02
                    or run_at <= i < run_at + rng.randint(3, 5)
                )
                batch.append(
                    AttendanceRecord(
                        pupil=p,
                        school=school,
                        day=d,
                        mark="absent" if absent else "present",
                        reason="illness" if absent else "",
                        source="import",
                    )
                )
            if len(batch) > 20_000:
                AttendanceRecord.objects.bulk_create(batch, batch_size=5000)
                batch = []
        AttendanceRecord.objects.bulk_create(batch, batch_size=5000)
    return first_rooms, days[len(days) - args.entries :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pupils", type=int, default=30_000)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--school-size", type=int, default=600)
    parser.add_argument("--class-size", type=int, default=30)
    parser.add_argument("--entries", type=int, default=20, help="class-days entered, timed")
    args = parser.parse_args()
    _setup(args)

    import time_machine
    from django.db import connection

    from agencies.actors import Staff
    from attendance.models import AttendanceRecord, EarlyAction
    from attendance.services import attendance_enter, schools_evaluate

    backend = connection.vendor
    with time_machine.travel(NOW, tick=True):
        t0 = time.perf_counter()
        rooms, entry_days = _generate(args)
        generated_s = time.perf_counter() - t0
        records = AttendanceRecord.objects.count()
        print(f"generated {args.pupils:,} pupils, {records:,} records in {generated_s:.1f} s")

        t0 = time.perf_counter()
        first = schools_evaluate(school_year=YEAR)
        first_s = time.perf_counter() - t0
        actions = EarlyAction.objects.count()
        t0 = time.perf_counter()
        again = schools_evaluate(school_year=YEAR)
        nightly_s = time.perf_counter() - t0
        if EarlyAction.objects.count() != actions:
            sys.exit("the nightly run must be idempotent")

        teacher, room = rooms[0]
        staff = Staff.for_user(teacher)
        pupils = list(room.enrolments.values_list("pupil_id", flat=True))
        rng = random.Random(16)
        timings = []
        for day in entry_days:
            marks = {
                pid: ("absent", "illness") if rng.random() < 0.05 else ("present", "")
                for pid in pupils
            }
            t0 = time.perf_counter()
            attendance_enter(staff=staff, classroom_id=room.pk, day=day, marks=marks)
            timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    print(
        f"{backend}: {first.schools} schools, {first.pupils:,} pupils × {args.days} days; "
        f"{actions:,} actions"
    )
    print(f"first evaluation (creates the actions): {first_s:.1f} s")
    print(f"nightly re-evaluation (nothing to change): {nightly_s:.1f} s for {again.pupils:,}")
    print(
        f"one class's day ({len(pupils)} pupils), {len(timings)} entries: "
        f"median {statistics.median(timings):.0f} ms, p95 {p95:.0f} ms, max {timings[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
