"""The only rules for who reads a school's pupils and attendance.

Staff of the school with a post (校務分掌): a homeroom teacher their class, a grade leader
their grade, the school's support team (管理職, 生徒指導・教育相談, 養護教諭, SC, SSW) the whole
school. Everyone else — another school, the ward, any agency's supervisor, any API key — gets
NotFound (404), the same as a pupil that does not exist. A member of the school whose post
does not open a screen (a teacher on the dashboard, a member with no post) gets NotAllowed
(403), as a role does elsewhere in the app; a pupil outside their class is still a 404. The
ward's education support section reads aggregated counts only (`ward_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet
from django.utils import timezone

from agencies.actors import Staff
from agencies.errors import NotAllowed, NotFound
from agencies.models import AgencyKind, Role
from attendance.calendar import school_year_of
from attendance.models import WHOLE_SCHOOL_ROLES, Classroom, Pupil, SchoolRole, StaffPost
from duework.business_time import TOKYO


def today() -> date:
    return timezone.now().astimezone(TOKYO).date()


@dataclass(frozen=True)
class SchoolStaff:
    """A staff member acting in their school, with their posts."""

    staff: Staff
    posts: tuple[StaffPost, ...]

    @property
    def school_id(self) -> int:
        return self.staff.agency.pk

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(p.role for p in self.posts)

    @property
    def whole_school(self) -> bool:
        return bool(self.roles & WHOLE_SCHOOL_ROLES)

    @property
    def leads(self) -> bool:
        """管理職 or a grade leader: the dashboard's readers."""
        return bool(self.roles & {SchoolRole.PRINCIPAL, SchoolRole.GRADE_LEADER})

    @property
    def grades(self) -> frozenset[int]:
        return frozenset(
            p.grade for p in self.posts if p.role == SchoolRole.GRADE_LEADER and p.grade
        )

    @property
    def classroom_ids(self) -> frozenset[int]:
        return frozenset(p.classroom_id for p in self.posts if p.classroom_id)


def _in_school(staff: Staff) -> None:
    """NotFound unless a person of a school agency (API keys never)."""
    if staff.is_api or staff.user is None or staff.agency.kind != AgencyKind.SCHOOL:
        raise NotFound()


def school_staff(staff: Staff) -> SchoolStaff:
    """The staff member as school staff: NotFound outside a school, NotAllowed for a member
    of the school without a post."""
    _in_school(staff)
    posts = tuple(StaffPost.objects.filter(user=staff.user, school=staff.agency))
    if not posts:
        raise NotAllowed()
    return SchoolStaff(staff=staff, posts=posts)


def school_leader(staff: Staff) -> SchoolStaff:
    """管理職 or a grade leader of the school (the dashboard); other posts NotAllowed."""
    me = school_staff(staff)
    if not me.leads:
        raise NotAllowed()
    return me


def school_admin(staff: Staff) -> SchoolStaff | None:
    """Who sets the school up (classes, posts, closures): its 管理職 (a post), or — to set
    up a school that has no posts yet — a member with the supervisor role. NotFound outside
    the school, NotAllowed for other members."""
    _in_school(staff)
    if staff.role == Role.SUPERVISOR:
        return None
    me = school_staff(staff)
    if SchoolRole.PRINCIPAL not in me.roles:
        raise NotAllowed()
    return me


def rules_reader(staff: Staff) -> str:
    """The municipality whose early-response rules the staff member may read: school staff
    with a post, or the ward's education support section. Otherwise NotFound."""
    if not staff.is_api and staff.agency.kind == AgencyKind.EDUCATION_SUPPORT:
        return ward_for(staff)
    if staff.is_api or staff.agency.kind != AgencyKind.SCHOOL:
        raise NotFound()
    _in_school(staff)
    if not StaffPost.objects.filter(user=staff.user, school=staff.agency).exists():
        raise NotAllowed()
    return staff.agency.municipality


def classrooms_for(me: SchoolStaff, *, school_year: int | None = None) -> QuerySet[Classroom]:
    """The classes the staff member may enter and read, of a school year (default: now)."""
    year = school_year if school_year is not None else school_year_of(today())
    query = Classroom.objects.filter(school_id=me.school_id, school_year=year)
    if me.whole_school:
        return query
    return query.filter(Q(pk__in=me.classroom_ids) | Q(grade__in=me.grades))


def classroom_for(me: SchoolStaff, classroom_id: int) -> Classroom:
    found = (
        Classroom.objects.filter(school_id=me.school_id, pk=classroom_id)
        .filter(Q() if me.whole_school else Q(pk__in=me.classroom_ids) | Q(grade__in=me.grades))
        .first()
    )
    if found is None:
        raise NotFound()
    return found


def pupils_for(me: SchoolStaff, *, school_year: int | None = None) -> QuerySet[Pupil]:
    """The pupils the staff member may read: through their class in the school year."""
    year = school_year if school_year is not None else school_year_of(today())
    query = Pupil.objects.filter(school_id=me.school_id)
    if me.whole_school:
        return query
    return query.filter(
        enrolments__school_year=year, enrolments__classroom__in=classrooms_for(me, school_year=year)
    )


def pupil_for(me: SchoolStaff, pupil_id: int, *, for_update: bool = False) -> Pupil:
    query = pupils_for(me)
    if for_update:
        query = Pupil.objects.select_for_update().filter(pk__in=query.values("pk"))
    found = query.filter(pk=pupil_id).first()
    if found is None:
        raise NotFound()
    return found


def ward_for(staff: Staff) -> str:
    """The municipality whose aggregated counts the staff member reads: staff of the board
    of education / education support section, in person. Otherwise NotFound."""
    if (
        staff.is_api
        or staff.agency.kind != AgencyKind.EDUCATION_SUPPORT
        or staff.role not in (Role.SUPERVISOR, Role.COUNSELOR)
    ):
        raise NotFound()
    return staff.agency.municipality
