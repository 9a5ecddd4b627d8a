"""The 管理職's set-up screens (classes, posts, closures), the rules screen, the nightly
re-evaluation (beat entry, command, idempotent) and backfilled imports (no long-overdue
calls created open)."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.management import call_command

from agencies.models import Role
from attendance import services
from attendance.models import ActionState, Classroom, EarlyAction, RuleSet, StaffPost
from audit.context import Actor
from audit.models import AuditEvent
from duework.models import Clock
from tests.attendance.conftest import staff_of
from tests.fixtures import sign_in

D = date


def test_principal_sets_up_classes_posts_and_closures(akashi, client, travel):
    s = akashi
    sign_in(client, s.principal.person)
    with travel(D(2025, 9, 12)):
        r = client.post(
            "/attendance/setup/classes/", {"school_year": 2025, "grade": 4, "name": "2"}
        )
        assert r.status_code == 302
        room = Classroom.objects.get(school=s.school, grade=4, name="2")
        r = client.post(
            "/attendance/setup/posts/?year=2025",
            {"user": s.leader.person.pk, "role": "homeroom", "classroom": room.pk},
        )
        assert r.status_code == 302
        post = StaffPost.objects.get(user=s.leader.person, classroom=room)
        page = client.get("/attendance/setup/posts/?year=2025").content.decode()
        assert f'data-post="{post.pk}"' in page
        r = client.post("/attendance/setup/posts/", {"remove": post.pk})
        assert r.status_code == 302 and not StaffPost.objects.filter(pk=post.pk).exists()
        r = client.post(
            "/attendance/setup/closures/",
            {"label": "運動会の振替", "start": "2025-10-06", "end": "2025-10-06"},
        )
        assert r.status_code == 302
        assert (
            "運動会の振替" in client.get("/attendance/setup/closures/?year=2025").content.decode()
        )
        # A bad class: the error is shown and nothing written.
        r = client.post(
            "/attendance/setup/classes/", {"school_year": 2025, "grade": 9, "name": "1"}
        )
        assert r.status_code == 200 and not Classroom.objects.filter(grade=9).exists()
    setups = AuditEvent.objects.filter(action="school.setup_changed")
    assert {e.object_type for e in setups} >= {"classroom", "staffpost", "closure"}


def test_the_last_principal_post_stays(akashi, client):
    post = StaffPost.objects.get(school=akashi.school, role="principal")
    sign_in(client, akashi.principal.person)
    client.post("/attendance/setup/posts/", {"remove": post.pk})
    assert StaffPost.objects.filter(pk=post.pk).exists()


def test_rules_screen_shows_the_municipality_rules(akashi, client):
    sign_in(client, akashi.teacher.person)
    body = client.get("/attendance/rules/").content.decode()
    assert "明石市" in body and "早期対応マニュアル" in body and 'data-rule="consecutive_3"' in body
    assert "管理画面" in body  # editing stays in the admin, and the screen says so
    RuleSet.objects.create(
        municipality="明石市",
        config={
            "rules": [
                {
                    "code": "c5",
                    "counter": "consecutive",
                    "at": 5,
                    "per": "run",
                    "kind": "share_report",
                    "owner": "grade_leader",
                    "due_days": 2,
                }
            ]
        },
    )
    body = client.get("/attendance/rules/").content.decode()
    assert 'data-rule="c5"' in body and 'data-rule="consecutive_3"' not in body


def test_nightly_run_is_in_beat_and_idempotent(akashi, travel):
    """GIVEN records written without evaluation (as a restore or a rule change leaves them)
    WHEN the nightly command runs twice THEN the first creates the actions, the second
    creates, withdraws and audits no action."""
    entry = settings.CELERY_BEAT_SCHEDULE["attendance-evaluate"]
    assert entry["task"] == "attendance.tasks.evaluate_schools"
    p = akashi.pupils[0]
    with travel(D(2025, 9, 12)):
        services._write(
            [services.Entry(p.pk, D(2025, 9, 12), "absent")],
            school=akashi.school,
            user=None,
            source="import",
        )
        assert not EarlyAction.objects.exists()
        call_command("evaluate_attendance")
        first = EarlyAction.objects.count()
        events = AuditEvent.objects.filter(action__startswith="attendance.action").count()
        call_command("evaluate_attendance", "--school", "akashi-es")
    assert first == 1 and EarlyAction.objects.count() == 1
    assert AuditEvent.objects.filter(action__startswith="attendance.action").count() == events
    assert AuditEvent.objects.filter(action="attendance.evaluated").count() == 2


def test_backfilled_import_closes_stale_calls_and_keeps_standing_thresholds(akashi, travel):
    """GIVEN a 校務支援システム file imported in November with absences from May
    WHEN evaluated THEN the May calls and visits are created already closed as backfilled
    (no clock, audited), while the year's thresholds still true (7 days) are open and due
    from today; a run still going today is due from today too."""
    p = akashi.pupils[0]
    may = [D(2025, 5, 12), D(2025, 5, 13), D(2025, 5, 14), D(2025, 5, 15)]
    june = [D(2025, 6, 2), D(2025, 6, 4), D(2025, 6, 6)]
    now = [D(2025, 11, 5), D(2025, 11, 6), D(2025, 11, 7)]  # Wed–Fri, a run still going
    present = [D(2025, 5, 16), D(2025, 6, 3), D(2025, 6, 5), D(2025, 11, 4)]
    with travel(D(2025, 11, 7)):
        services.attendance_import(
            school=akashi.school,
            entries=[services.Entry(p.pk, d, "absent") for d in may + june + now]
            + [services.Entry(p.pk, d, "present") for d in present],
            actor=Actor.system("test"),
            user=None,
        )
    by_rule = {}
    for a in EarlyAction.objects.filter(pupil=p):
        by_rule.setdefault(a.rule, []).append(a)
    may_call = next(a for a in by_rule["first_day_call"] if a.triggered_on == may[0])
    assert may_call.state == ActionState.BACKFILLED and may_call.closed_at is not None
    may_run = next(a for a in by_rule["consecutive_3"] if a.triggered_on == may[2])
    assert may_run.state == ActionState.BACKFILLED
    assert not Clock.objects.filter(kind="attendance.action", subject_id=may_call.pk).exists()
    seven = by_rule["intermittent_7"][0]
    assert seven.state == ActionState.OPEN and seven.due_on == D(2025, 11, 10)  # next school day
    current_run = next(a for a in by_rule["consecutive_3"] if a.triggered_on == now[2])
    assert current_run.state == ActionState.OPEN and current_run.due_on == D(2025, 11, 10)
    today_call = next(a for a in by_rule["first_day_call"] if a.triggered_on == now[0])
    assert today_call.state == ActionState.OPEN  # due 11/5, within its window on 11/7
    june_call = next(a for a in by_rule["intermittent_contact"] if a.triggered_on == june[0])
    assert june_call.state == ActionState.BACKFILLED
    backfilled = set(
        AuditEvent.objects.filter(action="attendance.action_backfilled").values_list(
            "object_id", flat=True
        )
    )
    assert str(may_call.pk) in {str(x) for x in backfilled}
    # Re-evaluating changes nothing.
    with travel(D(2025, 11, 7)):
        services.school_evaluate(school=akashi.school, school_year=2025)
    assert EarlyAction.objects.get(pk=may_call.pk).state == ActionState.BACKFILLED


def test_a_new_schools_supervisor_without_posts_is_led_to_the_set_up(akashi, client):
    """A school's supervisor member with no post yet (a new school) reaches the set-up from
    the attendance home; the menu marks the attendance link as the current page."""
    newcomer = staff_of(akashi.school, Role.SUPERVISOR, "vice@school.example.invalid")
    sign_in(client, newcomer.person)
    body = client.get("/attendance/").content.decode()
    assert "/attendance/setup/classes/" in body
    assert 'href="/attendance/" aria-current="page"' in body
    assert client.get("/attendance/setup/classes/").status_code == 200
    assert client.get("/attendance/dashboard/").status_code == 403
