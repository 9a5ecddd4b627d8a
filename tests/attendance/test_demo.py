"""`load_demo` adds two Akashi schools whose generated attendance crosses every threshold,
so that every attendance screen shows something; a second run changes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from attendance.models import ActionState, AttendanceRecord, EarlyAction, Pupil
from tests.fixtures import sign_in

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 26)  # a Thursday


@pytest.fixture
def demo(settings, tmp_path, travel):
    settings.TSUNAGU = {**settings.TSUNAGU, "DEMO_ALLOWED": True}
    settings.VAR_DIR = tmp_path
    with travel(DAY):
        call_command("load_demo")
    return tmp_path


def test_demo_schools_cross_every_threshold_and_reload_changes_nothing(demo, travel):
    rules = set(EarlyAction.objects.values_list("rule", flat=True))
    assert rules == {
        "first_day_call",
        "second_day_visit",
        "intermittent_contact",
        "consecutive_3",
        "intermittent_7",
        "ten_days",
        "thirty_days",
    }
    assert EarlyAction.objects.filter(state=ActionState.OPEN, triggered_on__gte=date(2026, 11, 23))
    assert EarlyAction.objects.filter(state=ActionState.BACKFILLED).exists()
    # Initials only: no pupil has a name.
    assert not Pupil.objects.exclude(full_name="").exists()
    counts = (Pupil.objects.count(), AttendanceRecord.objects.count(), EarlyAction.objects.count())
    with travel(DAY):
        call_command("load_demo")
    assert (
        Pupil.objects.count(),
        AttendanceRecord.objects.count(),
        EarlyAction.objects.count(),
    ) == counts
    table = (demo / "demo-users.txt").read_text(encoding="utf-8")
    assert "nakasaki-teacher" in table and "担任 4年1組" in table


def test_every_attendance_screen_shows_something(demo, client, travel):
    users = get_user_model().objects
    share = EarlyAction.objects.filter(
        rule="consecutive_3",
        state=ActionState.OPEN,
        pupil__enrolments__classroom__name="1",
        pupil__enrolments__classroom__grade=4,
    ).first()
    assert share is not None
    with travel(DAY):
        sign_in(client, users.get(username="nakasaki-teacher"))
        home = client.get("/attendance/").content.decode()
        assert "4年1組" in home
        room = share.pupil.enrolments.get().classroom_id
        entry = client.get(f"/attendance/classes/{room}/entry/?day={DAY}").content.decode()
        assert entry.count("data-pupil=") == 24 and " selected>" in entry
        assert client.get(f"/attendance/pupils/{share.pupil_id}/").status_code == 200
        assert client.get(f"/attendance/actions/{share.pk}/").status_code == 200
        assert client.get(f"/attendance/actions/{share.pk}/referral/").status_code == 200
        sign_in(client, users.get(username="nakasaki-principal"))
        board = client.get("/attendance/dashboard/").content.decode()
        assert f'data-action="{share.pk}"' in board
        for url in ("/attendance/setup/classes/", "/attendance/setup/posts/", "/attendance/rules/"):
            assert client.get(url).status_code == 200
        sign_in(client, users.get(username="akashi-supervisor"))
        ward = client.get("/attendance/ward/").content.decode()
        assert "明石市立中崎小学校" in ward and "5未満" in ward
