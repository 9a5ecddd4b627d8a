"""Demo schools for `load_demo`: two real schools of 明石市 from the seed (中崎小学校, 錦城中学校),
classes, staff posts for demo users, pupils by initials only, and two months of generated
attendance that crosses every threshold of the Akashi manual, so every attendance screen
shows something. Idempotent: schools and users upsert, pupils are registered once a year,
attendance re-imports unchanged."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from agencies import twofactor
from agencies.actors import Staff
from agencies.importing import apply_records, validate_rows
from agencies.models import Agency, Role
from agencies.services import membership_set
from attendance import services
from attendance.access import today
from attendance.calendar import school_calendar, school_days, school_year_of, year_bounds
from attendance.models import Classroom, Mark, SchoolLevel, SchoolProfile, StaffPost
from audit.context import Actor
from relay.choices import AbsenceReason

DEMO_PASSWORD = "tsunagu-demo"  # noqa: S105  (demo mode only; printed by load_demo)

SCHOOLS: list[dict[str, Any]] = [
    {
        "slug": "akashi-nakasaki-es",
        "name": "明石市立中崎小学校",
        "name_en": "Akashi Municipal Nakasaki Elementary School",
        "kind": "school",
        "prefecture": "兵庫県",
        "municipality": "明石市",
        "address": "〒673-0883 明石市中崎1丁目4番1号",
        "phone": "",
        "hours": "",
        "categories": ["school_refusal"],
        "age_min": 6,
        "age_max": 12,
        "grades": "小学1年〜小学6年",
        "accepts_referrals": False,
        "intake_email": "office@akashi-nakasaki-es.demo.tsunagu.invalid",
        "ack_sla_hours": 16,
        "requires_supervisor_approval": True,
        "source": "002_e20fb2c9b3563d33.txt",
        "description": "明石市の市立小学校(東部もくせい教室と児童生徒支援課分室が校舎内にある)。",
        "services": [],
    },
    {
        "slug": "akashi-kinjo-jhs",
        "name": "明石市立錦城中学校",
        "name_en": "Akashi Municipal Kinjo Junior High School",
        "kind": "school",
        "prefecture": "兵庫県",
        "municipality": "明石市",
        "address": "",
        "phone": "",
        "hours": "",
        "categories": ["school_refusal"],
        "age_min": 12,
        "age_max": 15,
        "grades": "中学1年〜中学3年",
        "accepts_referrals": False,
        "intake_email": "office@akashi-kinjo-jhs.demo.tsunagu.invalid",
        "ack_sla_hours": 16,
        "requires_supervisor_approval": True,
        "source": "002_e20fb2c9b3563d33.txt",
        "description": "明石市の市立中学校(コミセンで親の会が開かれている)。",
        "services": [],
    },
]
LEVELS = {"akashi-nakasaki-es": SchoolLevel.ELEMENTARY, "akashi-kinjo-jhs": SchoolLevel.JUNIOR_HIGH}
# (school, grade, class, pupils)
CLASSES = [
    ("akashi-nakasaki-es", 4, "1", 24),
    ("akashi-nakasaki-es", 4, "2", 24),
    ("akashi-nakasaki-es", 5, "1", 26),
    ("akashi-kinjo-jhs", 2, "1", 20),
]
# (username, school, membership role, post, grade, class "g-n", family and given name)
STAFF: list[tuple[str, str, Role, str, int | None, str, tuple[str, str]]] = [
    (
        "nakasaki-principal",
        "akashi-nakasaki-es",
        Role.SUPERVISOR,
        "principal",
        None,
        "",
        ("森", "直樹"),
    ),
    (
        "nakasaki-leader",
        "akashi-nakasaki-es",
        Role.COUNSELOR,
        "grade_leader",
        4,
        "",
        ("岡田", "早苗"),
    ),
    (
        "nakasaki-teacher",
        "akashi-nakasaki-es",
        Role.COUNSELOR,
        "homeroom",
        None,
        "4-1",
        ("石川", "亮"),
    ),
    (
        "nakasaki-teacher2",
        "akashi-nakasaki-es",
        Role.COUNSELOR,
        "homeroom",
        None,
        "4-2",
        ("前田", "奈緒"),
    ),
    ("nakasaki-sc", "akashi-nakasaki-es", Role.COUNSELOR, "sc", None, "", ("藤田", "理恵")),
    (
        "kinjo-principal",
        "akashi-kinjo-jhs",
        Role.SUPERVISOR,
        "principal",
        None,
        "",
        ("後藤", "哲也"),
    ),
    ("kinjo-teacher", "akashi-kinjo-jhs", Role.COUNSELOR, "homeroom", None, "2-1", ("岡本", "愛")),
]


@dataclass
class SchoolDemo:
    schools: int
    pupils: int
    records: int
    # (username, school name, role and post, TOTP secret of a supervisor or "")
    users: list[tuple[str, str, str, str]]


def _schools() -> dict[str, Agency]:
    records, errors, _bad = validate_rows(SCHOOLS)
    if errors:
        raise ValueError("demo schools are invalid: " + "; ".join(map(str, errors)))
    apply_records(records)
    found = {a.slug: a for a in Agency.objects.filter(slug__in=[s["slug"] for s in SCHOOLS])}
    for slug, level in LEVELS.items():
        SchoolProfile.objects.get_or_create(school=found[slug], defaults={"level": level})
    return found


def _user(username: str, name: tuple[str, str]) -> Any:
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={
            "email": f"{username}@demo.tsunagu.invalid",
            "last_name": name[0],
            "first_name": name[1],
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def _initials(rng: random.Random) -> str:
    return f"{rng.choice(string.ascii_uppercase)}.{rng.choice(string.ascii_uppercase)}"


def _pattern(kind: str, n: int, rng: random.Random) -> set[int]:
    """Which of n school days (0 = oldest) a pupil of a given pattern is absent."""
    if kind == "long":  # long-term: absent three days of four, 30+ in two months
        return {i for i in range(n) if i % 4 != 1}
    if kind == "ten":  # intermittent, 11–13 days spread
        return set(rng.sample(range(n - 5), min(n - 5, rng.randint(11, 13))))
    if kind == "seven":  # intermittent, 7–8 days
        return set(rng.sample(range(n - 5), min(n - 5, rng.randint(7, 8))))
    if kind == "run_now":  # a run of 3–4 days ending on the last school day
        return set(range(n - rng.randint(3, 4), n))
    if kind == "run_past":  # a finished run of 3 days a few weeks ago
        start = rng.randint(5, max(5, n - 15))
        return {start, start + 1, start + 2}
    if kind == "today":  # absent on the last school day only
        return {n - 1}
    return {i for i in range(n) if rng.random() < 0.02}  # the odd day off


# Patterns by position in a class (the rest: the odd day off).
NAKASAKI_PATTERNS = {
    "4-1": ["long", "ten", "ten", "seven", "run_now", "run_now", "run_past", "today"],
    "4-2": ["long", "ten", "ten", "run_now", "run_past", "today"],
    "5-1": ["ten", "seven", "run_now", "run_past"],
    "2-1": ["ten", "run_now"],
}
REASONS = {
    "long": AbsenceReason.SCHOOL_REFUSAL,
    "ten": AbsenceReason.SCHOOL_REFUSAL,
    "seven": AbsenceReason.ILLNESS,
    "run_now": AbsenceReason.SCHOOL_REFUSAL,
    "run_past": AbsenceReason.ILLNESS,
    "today": "",
}


def load_school_demo(*, on: date | None = None) -> SchoolDemo:
    """The demo schools, their staff posts and two months of attendance up to `on`."""
    day = on or today()
    year = school_year_of(day)
    actor = Actor.system("load_demo")
    with transaction.atomic():
        schools = _schools()
        users: list[tuple[str, str, str, str]] = []
        principals: dict[str, Staff] = {}
        for username, slug, role, post, _grade, _room, full_name in STAFF:
            user = _user(username, full_name)
            membership_set(user=user, agency=schools[slug], role=role, actor=actor)
            if post == "principal":
                principals[slug] = Staff.for_user(user)
        rooms: dict[tuple[str, str], Classroom] = {}
        for slug, grade, name, _size in CLASSES:
            room = Classroom.objects.filter(
                school=schools[slug], school_year=year, grade=grade, name=name
            ).first()
            rooms[(slug, f"{grade}-{name}")] = room or services.classroom_create(
                staff=principals[slug], school_year=year, grade=grade, name=name
            )
        for username, slug, _role, post, post_grade, room_key, _name in STAFF:
            user = get_user_model().objects.get(username=username)
            room = rooms.get((slug, room_key))
            if not StaffPost.objects.filter(user=user, role=post, classroom=room).exists():
                services.post_assign(
                    staff=principals[slug], user=user, role=post, grade=post_grade, classroom=room
                )
            label = str(StaffPost(role=post).get_role_display())
            if room is not None:
                label += f" {room}"
            elif post_grade:
                label += f" {post_grade}年"
            users.append((username, schools[slug].name, label, _second_factor_secret(user)))
    pupils = 0
    records = 0
    rng = random.Random(15)  # noqa: S311  (demo data, not security)
    start = max(day - timedelta(days=61), year_bounds(year)[0])
    for slug, school in schools.items():
        calendar = school_calendar(school, within=(start, day))
        days = list(school_days(calendar, start, day))
        entries: list[services.Entry] = []
        for (room_slug, key), room in rooms.items():
            if room_slug != slug:
                continue
            size = next(c[3] for c in CLASSES if c[0] == slug and f"{c[1]}-{c[2]}" == key)
            patterns = NAKASAKI_PATTERNS.get(key, [])
            for number in range(1, size + 1):
                pupil_id = _pupil(principals[slug], room, number, rng)
                pupils += 1
                kind = patterns[number - 1] if number <= len(patterns) else "odd"
                absent = _pattern(kind, len(days), rng) if days else set()
                for i, d in enumerate(days):
                    if i in absent:
                        entries.append(
                            services.Entry(pupil_id, d, Mark.ABSENT, REASONS.get(kind, "illness"))
                        )
                    else:
                        mark = Mark.LATE if rng.random() < 0.01 else Mark.PRESENT
                        entries.append(services.Entry(pupil_id, d, mark))
        if entries:
            result = services.attendance_import(
                school=school, entries=entries, actor=actor, user=None
            )
            records += result.created
    return SchoolDemo(schools=len(schools), pupils=pupils, records=records, users=users)


def _pupil(principal: Staff, room: Classroom, number: int, rng: random.Random) -> int:
    """The pupil with this 出席番号 in the class, registered on the first run."""
    initials = _initials(rng)  # drawn every run, so that the sequence does not shift
    enrolment = room.enrolments.filter(number=number).first()
    if enrolment is not None:
        return int(enrolment.pupil_id)
    pupil = services.pupil_register(
        staff=principal,
        school_number=f"{room.school_year % 100:02}{room.grade}{room.name}-{number:02}",
        initials=initials,
        classroom=room,
        number=number,
    )
    return int(pupil.pk)


def _second_factor_secret(user: Any) -> str:
    """A demo 管理職 (a supervisor) signs in with a second factor, as every supervisor does:
    enrolled once, its secret printed with the users (empty for the others)."""
    if not twofactor.second_step_needed(user):
        return ""
    device = twofactor.confirmed_totp(user) or twofactor.totp_enrol_directly(user=user)
    return twofactor.totp_secret(device)
