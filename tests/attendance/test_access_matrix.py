"""Every attendance screen and CSV × every kind of caller, from the outside.

Rows: the right post of the school; a member of the same school whose post does not open the
screen (403 when the screen is for another post, as a role is elsewhere in the app; 404 when
the object — a class, a pupil, an action — is outside their class); another school; the
ward's education support section; another agency's supervisor; anonymous; a partner API key
(the attendance screens are not part of the API: a key is no session). Other agencies get
404, the same as something that does not exist.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from agencies.actors import Staff
from agencies.models import AgencyKind, Role
from api.keys import api_key_create
from api.scopes import ALL_SCOPES
from attendance import services
from attendance.models import AttendanceRecord, EarlyAction, Mark, StaffPost
from audit.context import Actor
from tests.attendance.conftest import staff_of
from tests.factories import AgencyFactory
from tests.fixtures import sign_in

DAY = date(2025, 9, 12)


@pytest.fixture
def world(akashi, travel):
    """The Akashi school of conftest, a 3年1組 homeroom teacher (the wrong class), a member
    with no post, an NPO's supervisor, a partner API key of the school, and a pupil with a
    3-day action."""
    teacher_3 = staff_of(akashi.school, Role.COUNSELOR, "t3@school.example.invalid")
    services.post_assign(
        staff=akashi.principal, user=teacher_3.person, role="homeroom", classroom=akashi.other_room
    )
    no_post = staff_of(akashi.school, Role.COUNSELOR, "clerk@school.example.invalid")
    npo = AgencyFactory(slug="npo", kind=AgencyKind.NPO_FREE_SCHOOL, municipality="明石市")
    npo_supervisor = staff_of(npo, Role.SUPERVISOR, "boss@npo.example.invalid")
    _key, plaintext = api_key_create(
        agency=akashi.school,
        name="school system",
        scopes=sorted(ALL_SCOPES),
        expires_at=None,
        created_by=None,
        actor=Actor.system("test"),
    )
    pupil = akashi.pupils[0]
    with travel(DAY):
        services.attendance_import(
            school=akashi.school,
            entries=[
                services.Entry(pupil.pk, d, "absent", "")
                for d in (date(2025, 9, 10), date(2025, 9, 11), DAY)
            ],
            actor=Actor.system("test"),
            user=None,
        )
    share = EarlyAction.objects.get(pupil=pupil, rule="consecutive_3")
    return {
        "s": akashi,
        "teacher_3": Staff.for_user(teacher_3.person),
        "no_post": no_post,
        "npo": npo_supervisor,
        "key": plaintext,
        "pupil": pupil,
        "action": share,
    }


def _url(name: str, w) -> str:
    s = w["s"]
    return {
        "home": "/attendance/",
        "entry": f"/attendance/classes/{s.room.pk}/entry/?day={DAY}",
        "upload": "/attendance/upload/",
        "pupil": f"/attendance/pupils/{w['pupil'].pk}/",
        "action": f"/attendance/actions/{w['action'].pk}/",
        "referral": f"/attendance/actions/{w['action'].pk}/referral/",
        "dashboard": f"/attendance/dashboard/?on={DAY}",
        "ward": "/attendance/ward/",
        "ward_csv": "/attendance/ward/monthly.csv?month=2025-09",
        "setup_classes": "/attendance/setup/classes/?year=2025",
        "setup_posts": "/attendance/setup/posts/?year=2025",
        "setup_closures": "/attendance/setup/closures/?year=2025",
        "rules": "/attendance/rules/",
    }[name]


# screen: (right post, own school with the wrong post, expected for the wrong post)
SCREENS = {
    "home": ("teacher", "no_post", 403),
    "entry": ("teacher", "teacher_3", 404),
    "upload": ("principal", "teacher", 403),
    "pupil": ("teacher", "teacher_3", 404),
    "action": ("teacher", "teacher_3", 404),
    "referral": ("teacher", "teacher_3", 404),
    "dashboard": ("leader", "teacher", 403),
    "ward": ("ward", "principal", 404),  # a school is not the ward: another agency's screen
    "ward_csv": ("ward", "principal", 404),
    "setup_classes": ("principal", "teacher", 403),
    "setup_posts": ("principal", "leader", 403),
    "setup_closures": ("principal", "teacher", 403),
    "rules": ("teacher", "no_post", 403),
}
WARD_SCREENS = {"ward", "ward_csv"}


def _staff(w, who: str) -> Staff:
    s = w["s"]
    return w[who] if who in w else getattr(s, who)


def _get(client: Client, url: str, travel, **extra):
    with travel(DAY):
        return client.get(url, **extra)


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_right_post_is_let_in(world, client, travel, screen):
    sign_in(client, _staff(world, SCREENS[screen][0]).person)
    assert _get(client, _url(screen, world), travel).status_code == 200


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_own_school_wrong_post(world, client, travel, screen):
    _right, wrong, expected = SCREENS[screen]
    sign_in(client, _staff(world, wrong).person)
    assert _get(client, _url(screen, world), travel).status_code == expected


OBJECT_SCREENS = {"entry", "pupil", "action", "referral"}


@pytest.mark.parametrize("screen", sorted(SCREENS))
@pytest.mark.parametrize("who", ["other_teacher", "ward", "npo"])
def test_other_agencies_get_404(world, client, travel, screen, who):
    """Another school (its 管理職), the ward and an NPO's supervisor: 404 on every class,
    pupil and action of the school; the screens that show "my school" (home, upload,
    dashboard, set-up) show another school's 管理職 their own school and nothing of ours,
    and answer 404 to the ward and the NPO; the ward's screens only for the ward; the
    municipality's rules (no pupil in them) for the ward and any school of it with a post."""
    sign_in(client, _staff(world, who).person)
    response = _get(client, _url(screen, world), travel)
    status = response.status_code
    if screen in WARD_SCREENS:
        assert status == (200 if who == "ward" else 404)
    elif screen == "rules":
        assert status == (404 if who == "npo" else 200)
    elif screen in OBJECT_SCREENS or who != "other_teacher":
        assert status == 404
    else:
        body = response.content.decode()
        assert status == 200
        assert "A.T" not in body and f"/classes/{world['s'].room.pk}/" not in body
        assert f'data-action="{world["action"].pk}"' not in body
        assert f'data-classroom="{world["s"].room.pk}"' not in body


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_anonymous_and_api_key_are_sent_to_sign_in(world, client, travel, screen):
    """A partner API key is not a session: the screens send it to sign in, like anonymous,
    and nothing of the pupil is in the answer."""
    for extra in ({}, {"HTTP_AUTHORIZATION": f"Bearer {world['key']}"}):
        response = _get(client, _url(screen, world), travel, **extra)
        assert response.status_code == 302
        assert "/login" in response["Location"] or "/accounts/" in response["Location"]
        assert b"A.T" not in response.content


def test_writes_refused_for_other_schools_and_wrong_posts(world, client, travel):
    """POSTs: entry for another class or from another school: 404; set-up by a teacher:
    403; by the ward: 404; another school's 管理職 sets up only their own school. Nothing
    of ours is written."""
    s = world["s"]
    pupil = world["pupil"]
    before = AttendanceRecord.objects.count()
    entry = f"/attendance/classes/{s.room.pk}/entry/"
    mark = {"day": "2025-09-12", f"mark-{pupil.pk}": Mark.PRESENT}
    closure = {"label": "x", "start": "2025-10-01"}
    with travel(DAY):
        for who in ("teacher_3", "other_teacher", "ward"):
            sign_in(client, _staff(world, who).person)
            assert client.post(entry, mark).status_code == 404, who
        assert client.post("/attendance/setup/closures/", closure).status_code == 404
        sign_in(client, s.teacher.person)
        assert client.post("/attendance/setup/closures/", closure).status_code == 403
        posted = {"user": s.teacher.person.pk, "role": "grade_leader", "grade": 2}
        assert client.post("/attendance/setup/posts/", posted).status_code == 403
        sign_in(client, s.other_teacher.person)
        client.post("/attendance/setup/posts/", posted)
        client.post("/attendance/setup/closures/", closure)
    assert AttendanceRecord.objects.count() == before
    assert not StaffPost.objects.filter(user=s.teacher.person, role="grade_leader").exists()
    assert not s.school.closures.filter(label="x").exists()
    assert s.other.closures.filter(label="x").exists()


def test_menu_shows_attendance_to_school_staff_only(world, client, travel):
    for who, shown in (("teacher", True), ("ward", False), ("npo", False)):
        sign_in(client, _staff(world, who).person)
        body = _get(client, "/", travel).content.decode()
        assert ('href="/attendance/"' in body) is shown, who
