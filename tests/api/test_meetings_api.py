"""Case meetings through the partner API (scope meetings:read), as an attacker would try it:
the participating agency reads the record (a snapshot per version, audited); another agency,
a participant whose basis ended, a member of a different council, no key and a key without
the scope get nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from api.scopes import ALL_SCOPES
from audit.models import AuditAction, AuditEvent
from conferences import services as conferences
from relay import services
from tests.api.helpers import assert_problem, bearer
from tests.conferences.conftest import Case, case, council, council_basis, same_ward  # noqa: F401

pytestmark = pytest.mark.django_db

SCOPE = "meetings:read"


def detail(of: Case) -> str:
    return f"/api/v1/meetings/{of.meeting.pk}/"


def recorded(of: Case) -> None:
    conferences.meeting_record(
        staff=of.net.counselor,
        meeting_id=of.meeting.pk,
        content={"goal": "週1回 通所", "grid": {"learning": {"problem": "授業に不安"}}},
    )


def _withdraw(of: Case) -> None:
    services.consent_withdraw(staff=of.net.counselor, record_id=of.consent.pk, via="保護者")


# (who calls, how the case is changed first, expected status, problem slug or None)
MATRIX: dict[str, tuple[Callable[[Case, Any], dict[str, Any]], Callable[[Case], None] | None]] = {
    "own agency, participant": (lambda c, key: bearer(key(c.net.npo)), None),
    "another agency": (lambda c, key: bearer(key(c.net.welfare)), None),
    "participant after the basis ended": (lambda c, key: bearer(key(c.net.npo)), _withdraw),
    "no key": (lambda c, key: {}, None),
    "missing scope": (
        lambda c, key: bearer(key(c.net.npo, *sorted(ALL_SCOPES - {SCOPE}))),
        None,
    ),
}
EXPECTED = {
    "own agency, participant": (200, None),
    "another agency": (404, "not-found"),
    "participant after the basis ended": (404, "not-found"),
    "no key": (401, "not-authenticated"),
    "missing scope": (403, "insufficient-scope"),
}


@pytest.mark.parametrize("who", list(MATRIX))
def test_meeting_access_matrix(case, key_for, who) -> None:  # noqa: F811
    """GIVEN a recorded meeting (ward desk with the NPO and child guidance) WHEN `who` reads
    it and lists meetings THEN the status; only the participant sees it in its list."""
    recorded(case)
    headers_for, change = MATRIX[who]
    headers = headers_for(case, key_for)
    if change:
        change(case)
    client = APIClient()

    response = client.get(detail(case), **headers)
    listed = client.get("/api/v1/meetings/", **headers)

    status, slug = EXPECTED[who]
    if slug:
        assert_problem(response, status=status, slug=slug)
        if status == 404:
            assert listed.status_code == 200 and listed.json()["results"] == []
        else:
            assert listed.status_code == status
    else:
        assert response.status_code == 200, response.content
        assert [m["id"] for m in listed.json()["results"]] == [case.meeting.pk]


def test_the_participant_reads_a_snapshot_per_version_and_each_read_is_audited(
    case,  # noqa: F811
    key_for,
) -> None:
    """GIVEN two saved versions of the record WHEN the NPO reads the newest and then version
    1 THEN each shows what was saved then, with the plan and reports, and each read is one
    MEETING_VIEWED event naming the version and the key."""
    net = case.net
    recorded(case)
    conferences.meeting_record(
        staff=net.counselor, meeting_id=case.meeting.pk, content={"goal": "月2回 面談"}
    )
    conferences.agency_report_write(staff=net.npo_intake, meeting_id=case.meeting.pk, text="通所")
    action = conferences.plan_action_add(
        staff=net.counselor,
        meeting_id=case.meeting.pk,
        what="居場所の見学",
        owner_agency=net.npo,
        owner_role="相談員",
        due_on=case.meeting.held_on.replace(day=28),
        where="NPO",
        for_whom="person",
        short_term_goal="見学",
    )
    conferences.action_progress_add(staff=net.npo_intake, action_id=action.pk, text="日程調整中")
    headers = bearer(key_for(net.npo, SCOPE))
    client = APIClient()

    newest = client.get(detail(case), **headers).json()
    first = client.get(detail(case) + "?version=1", **headers).json()

    assert newest["version_read"] == 2 and newest["versions"] == [1, 2]
    assert newest["record"]["goal"] == "月2回 面談"
    assert newest["record"]["grid"]["learning"]["problem"] == ""
    assert first["version_read"] == 1 and first["record"]["goal"] == "週1回 通所"
    assert first["record"]["grid"]["learning"]["problem"] == "授業に不安"
    assert [r["agency"]["slug"] for r in newest["reports"]] == [net.npo.slug]
    (plan,) = newest["actions"]
    assert plan["owner_agency"]["slug"] == net.npo.slug
    assert [p["text"] for p in plan["progress"]] == ["日程調整中"]
    assert {p["agency"]["slug"] for p in newest["participants"]} >= {net.npo.slug}
    reads = AuditEvent.objects.filter(action=AuditAction.MEETING_VIEWED).order_by("id")
    assert [e.detail["version_read"] for e in reads] == [2, 1]
    assert all(e.actor_api_key_id is not None for e in reads)


def test_an_unknown_version_and_a_bad_one_are_answered_clearly(case, key_for) -> None:  # noqa: F811
    recorded(case)
    headers = bearer(key_for(case.net.npo, SCOPE))
    client = APIClient()
    assert_problem(client.get(detail(case) + "?version=9", **headers), status=404, slug="not-found")
    bad = assert_problem(
        client.get(detail(case) + "?version=abc", **headers), status=400, slug="validation-error"
    )
    assert "version" in str(bad)


def test_a_member_of_a_different_council_gets_404(same_ward, council, key_for) -> None:  # noqa: F811
    """GIVEN a meeting under the ward's 要対協 WHEN an agency that belongs only to another
    council (the welfare office, member of the NPO's 支援会議) reads it THEN 404."""
    net = same_ward
    sheet = net.sheet()
    basis = council_basis(net, sheet, council)
    meeting = conferences.meeting_create(
        staff=net.counselor,
        basis_id=basis.pk,
        held_on=sheet.consulted_on,
        participants={net.guidance: "児童福祉司", net.npo: "相談員"},
    )
    conferences.council_create(
        staff=net.npo_supervisor, kind="support_council", name="支援会議", members=[net.welfare]
    )
    client = APIClient()
    url = f"/api/v1/meetings/{meeting.pk}/"
    assert client.get(url, **bearer(key_for(net.guidance, SCOPE))).status_code == 200
    assert_problem(
        client.get(url, **bearer(key_for(net.welfare, SCOPE))), status=404, slug="not-found"
    )
