"""A school in 明石市 (管理職, 学年主任, 担任 of 2年1組) with its pupils; another school; the
city's education support section (児童生徒支援課)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest
import time_machine

from agencies.actors import Staff
from agencies.models import Agency, AgencyKind, Role
from attendance import services
from attendance.models import Classroom, Pupil
from duework.business_time import TOKYO
from tests.factories import AgencyFactory, MembershipFactory


@dataclass
class School:
    school: Agency
    principal: Staff
    leader: Staff
    teacher: Staff
    room: Classroom
    other_room: Classroom
    pupils: list[Pupil]
    other: Agency
    other_teacher: Staff
    ward: Staff
    ward_agency: Agency


def staff_of(agency: Agency, role: Role, email: str) -> Staff:
    membership = MembershipFactory(agency=agency, role=role, user__email=email)
    return Staff.for_user(membership.user)


@pytest.fixture
def travel():
    """Travel to a Tokyo date (noon) for the block: `with travel(date(...)):`."""

    def go(day: date) -> time_machine.travel:
        return time_machine.travel(
            datetime(day.year, day.month, day.day, 12, tzinfo=TOKYO), tick=False
        )

    return go


@pytest.fixture
def akashi(db: None) -> School:
    school = AgencyFactory(
        slug="akashi-es", name="明石市立テスト小学校", kind=AgencyKind.SCHOOL, municipality="明石市"
    )
    other = AgencyFactory(
        slug="other-es", name="明石市立となり小学校", kind=AgencyKind.SCHOOL, municipality="明石市"
    )
    ward_agency = AgencyFactory(
        slug="akashi-boe",
        name="明石市教育委員会 児童生徒支援課",
        kind=AgencyKind.EDUCATION_SUPPORT,
        municipality="明石市",
    )
    principal = staff_of(school, Role.SUPERVISOR, "principal@school.example.invalid")
    leader_staff = staff_of(school, Role.COUNSELOR, "leader@school.example.invalid")
    teacher = staff_of(school, Role.COUNSELOR, "teacher@school.example.invalid")
    other_teacher = staff_of(other, Role.SUPERVISOR, "t@other.example.invalid")
    ward = staff_of(ward_agency, Role.SUPERVISOR, "ward@boe.example.invalid")
    room = services.classroom_create(staff=principal, school_year=2025, grade=2, name="1")
    other_room = services.classroom_create(staff=principal, school_year=2025, grade=3, name="1")
    services.post_assign(staff=principal, user=principal.person, role="principal")
    services.post_assign(staff=principal, user=leader_staff.person, role="grade_leader", grade=2)
    services.post_assign(staff=principal, user=teacher.person, role="homeroom", classroom=room)
    services.post_assign(staff=other_teacher, user=other_teacher.person, role="principal")
    pupils = [
        services.pupil_register(
            staff=principal,
            school_number=f"25-{n:03}",
            initials=f"{chr(64 + n)}.T",
            classroom=room,
            number=n,
        )
        for n in range(1, 7)
    ]
    services.pupil_register(
        staff=principal, school_number="25-900", initials="Z.Z", classroom=other_room, number=1
    )
    # 2025-09-16 (Tue, after 敬老の日 on Mon 9/15) is the school's 振替休業日.
    services.closure_add(
        staff=principal, start=date(2025, 9, 16), end=date(2025, 9, 16), label="振替休業日"
    )
    return School(
        school=school,
        principal=Staff.for_user(principal.person),
        leader=Staff.for_user(leader_staff.person),
        teacher=Staff.for_user(teacher.person),
        room=room,
        other_room=other_room,
        pupils=pupils,
        other=other,
        other_teacher=other_teacher,
        ward=ward,
        ward_agency=ward_agency,
    )
