"""Case meetings as an attacker sees them: every way in that should be shut answers
NotFound (404 on screens), the same as a meeting that does not exist; every read audited.

Access matrix (meeting record, reports and plan are one read):

| who                                                   | sees |
| ----------------------------------------------------- | ---- |
| the organiser (holds the sheet)                       | yes  |
| a participant agency while the basis covers it        | yes  |
| a non-participant agency                              | 404  |
| a former participant after the consent is withdrawn   | 404  |
| a participant that left the council (council basis)   | 404  |
| a member of a different council                       | 404  |
| a participant's API key without "meetings:read"       | 404  |
| a participant's API key with it                       | yes  |
"""

from __future__ import annotations

from datetime import date

import pytest

from agencies.actors import Staff
from agencies.errors import InvalidInput, NotFound
from audit.models import AuditAction, AuditEvent
from conferences import services as conferences
from consent.models import CouncilKind
from relay import services
from tests.conferences.conftest import council_basis

pytestmark = pytest.mark.django_db


def view(staff: Staff, meeting_id: int):
    return conferences.meeting_view(staff=staff, meeting_id=meeting_id)


def api_key(staff: Staff, *scopes: str) -> Staff:
    return Staff.for_api_key(
        agency=staff.agency, api_key_id=999, scopes=frozenset(scopes), label="partner"
    )


def test_participants_read_the_meeting_and_every_read_is_audited(case) -> None:
    net, meeting = case.net, case.meeting
    for staff in (net.counselor, net.npo_intake, net.guidance_intake):
        assert view(staff, meeting.pk).meeting.pk == meeting.pk
    reads = AuditEvent.objects.filter(action=AuditAction.MEETING_VIEWED, object_id=str(meeting.pk))
    assert sorted(e.actor_agency_id or 0 for e in reads) == sorted(
        [net.ward.pk, net.npo.pk, net.guidance.pk]
    )


def test_a_non_participant_agency_gets_not_found(case) -> None:
    with pytest.raises(NotFound):
        view(case.net.welfare_intake, case.meeting.pk)
    with pytest.raises(NotFound):
        conferences.agency_report_write(
            staff=case.net.welfare_intake, meeting_id=case.meeting.pk, text="x"
        )


def test_a_former_participant_loses_access_when_the_basis_ends(case) -> None:
    """GIVEN the NPO took part under the guardian's consent WHEN the consent is withdrawn
    THEN the NPO's reads are 404; the ward, which holds the sheet, still reads its record."""
    net = case.net
    services.consent_withdraw(staff=net.counselor, record_id=case.consent.pk, via="保護者")
    with pytest.raises(NotFound):
        view(net.npo_intake, case.meeting.pk)
    assert view(net.counselor, case.meeting.pk).meeting.pk == case.meeting.pk


def test_an_api_key_without_the_scope_gets_not_found(case) -> None:
    with pytest.raises(NotFound):
        view(api_key(case.net.npo_intake, "handoffs:read"), case.meeting.pk)
    assert view(api_key(case.net.npo_intake, "meetings:read"), case.meeting.pk).meeting


def test_a_meeting_cannot_seat_an_agency_the_basis_does_not_cover(case) -> None:
    net = case.net
    with pytest.raises(InvalidInput) as refused:
        conferences.meeting_create(
            staff=net.counselor,
            basis_id=case.consent.pk,
            held_on=date(2026, 12, 1),
            participants={net.npo: "", net.welfare: ""},
        )
    assert refused.value.field == "participants"
    assert refused.value.context["not_covered"] == [net.welfare.pk]


def test_council_meetings_are_closed_to_former_members_and_other_councils(
    same_ward, council
) -> None:
    """GIVEN a meeting under the ward's 要対協 basis with child guidance and the NPO, and a
    支援会議 of which the welfare office is a member WHEN child guidance leaves the 要対協
    THEN it gets 404; the welfare office, a member of a different council, gets 404 too."""
    net = same_ward
    sheet = net.sheet()
    basis = council_basis(net, sheet, council)
    meeting = conferences.meeting_create(
        staff=net.counselor,
        basis_id=basis.pk,
        held_on=date(2026, 11, 20),
        participants={net.npo: "", net.guidance: ""},
    )
    assert meeting.council == council
    conferences.council_create(
        staff=net.supervisor,
        kind=CouncilKind.SUPPORT_COUNCIL,
        name="足立区支援会議",
        members=[net.welfare],
    )
    assert view(net.guidance_intake, meeting.pk)
    with pytest.raises(NotFound):
        view(net.welfare_intake, meeting.pk)
    conferences.council_member_end(
        staff=net.supervisor, council_id=council.pk, agency_id=net.guidance.pk
    )
    with pytest.raises(NotFound):
        view(net.guidance_intake, meeting.pk)
    assert view(net.npo_intake, meeting.pk)


def test_a_missing_meeting_and_a_forbidden_one_are_the_same_answer(case) -> None:
    with pytest.raises(NotFound) as missing:
        view(case.net.npo_intake, 987654)
    with pytest.raises(NotFound) as forbidden:
        view(case.net.welfare_intake, case.meeting.pk)
    assert str(missing.value) == str(forbidden.value)


def test_plans_are_closed_to_strangers_and_to_former_participants(case, login) -> None:
    """GIVEN a plan action of the NPO WHEN the welfare office (not a participant) posts
    progress on it or opens the review, and the NPO does after the consent is withdrawn
    THEN each is 404 and no progress is written."""
    from django.urls import reverse

    from conferences.models import ActionProgress

    net = case.net
    action = conferences.plan_action_add(
        staff=net.counselor,
        meeting_id=case.meeting.pk,
        what="居場所の見学",
        owner_agency=net.npo,
        due_on=date(2026, 12, 18),
        for_whom="person",
    )
    progress = reverse("conferences:action-progress", args=[action.pk])
    review = reverse("conferences:review-new", args=[case.meeting.pk])
    stranger = login(net.welfare_intake)
    assert stranger.post(progress, {"text": "x"}).status_code == 404
    assert stranger.get(review).status_code == 404
    services.consent_withdraw(staff=net.counselor, record_id=case.consent.pk, via="保護者")
    assert login(net.npo_intake).post(progress, {"text": "x"}).status_code == 404
    assert not ActionProgress.objects.exists()
