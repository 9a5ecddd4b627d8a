"""Council management from the outside: the coordinating agency's supervisor (or an
administrator) records a council and adds and ends memberships with periods, each change
audited; members read the council and its members; nobody else sees it (404), and no one but
the coordinator's supervisors and administrators changes it."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction, AuditEvent, RefusalWindow
from consent.models import Council, CouncilMember
from duework.business_time import TOKYO

pytestmark = pytest.mark.django_db


def council_url(council: Council, name: str = "council-detail", *args: int) -> str:
    return reverse(f"conferences:{name}", args=[council.pk, *args])


def test_the_coordinators_supervisor_records_a_council_with_a_period(same_ward, login) -> None:
    """GIVEN the ward desk's supervisor WHEN it records a 要対協 from 2026-04-01 to 2027-03-31
    THEN the council is the ward's, in force for that period (the last day inclusive), and
    the creation is audited with no member yet."""
    net = same_ward
    response = login(net.supervisor).post(
        reverse("conferences:council-list"),
        {
            "kind": "yotaikyo",
            "name": "足立区要保護児童対策地域協議会",
            "purposes": ["case_conference", "protection"],
            "valid_from": "2026-04-01",
            "valid_until": "2027-03-31",
        },
    )
    council = Council.objects.get()
    assert response.status_code == 302 and response["Location"] == council_url(council)
    assert council.coordinating_agency_id == net.ward.pk
    assert council.purposes == ["case_conference", "protection"]
    assert council.valid_from == datetime(2026, 4, 1, tzinfo=TOKYO)
    assert council.valid_until == datetime(2027, 4, 1, tzinfo=TOKYO)
    event = AuditEvent.objects.get(action=AuditAction.COUNCIL_SAVED)
    assert event.object_id == str(council.pk) and event.actor_user_id == net.supervisor.user_id
    assert event.detail["change"] == "created" and event.detail["member_ids"] == []


def test_a_council_ending_before_it_starts_is_refused(same_ward, login) -> None:
    response = login(same_ward.supervisor).post(
        reverse("conferences:council-list"),
        {"kind": "yotaikyo", "name": "X", "valid_from": "2026-04-01", "valid_until": "2026-03-01"},
    )
    assert response.status_code == 400
    assert "終了日は開始日より後" in response.content.decode()
    assert not Council.objects.exists()


def test_a_counselor_cannot_record_a_council(same_ward, login) -> None:
    response = login(same_ward.counselor).post(
        reverse("conferences:council-list"), {"kind": "yotaikyo", "name": "X"}
    )
    assert response.status_code == 403
    assert not Council.objects.exists()


def test_memberships_are_added_and_ended_with_periods_and_audited(same_ward, council, login):
    """GIVEN the council (NPO and child guidance are members) WHEN the coordinator's
    supervisor adds the welfare office, then ends child guidance's membership THEN both
    periods are recorded and each change is one audit event naming the agency."""
    net = same_ward
    client = login(net.supervisor)
    added = client.post(
        council_url(council, "council-member-add"),
        {"agency": net.welfare.pk, "valid_from": "2026-01-05", "valid_until": "2099-03-31"},
    )
    ended = client.post(council_url(council, "council-member-end", net.guidance.pk), {})

    assert added.status_code == ended.status_code == 302
    welfare = CouncilMember.objects.get(council=council, agency=net.welfare)
    assert welfare.valid_from == datetime(2026, 1, 5, tzinfo=TOKYO)
    assert welfare.valid_until == datetime(2099, 4, 1, tzinfo=TOKYO)
    guidance = CouncilMember.objects.get(council=council, agency=net.guidance)
    assert guidance.valid_until is not None and guidance.valid_until <= timezone.now()
    assert net.guidance.pk not in council.member_ids_at(timezone.now())
    changes = [
        (e.detail["change"], e.detail.get("agency_id"))
        for e in AuditEvent.objects.filter(action=AuditAction.COUNCIL_SAVED).order_by("id")
    ]
    assert changes[-2:] == [("member_added", net.welfare.pk), ("member_ended", net.guidance.pk)]
    page = client.get(council_url(council)).content.decode()
    assert net.welfare.name in page and "参加期間外" in page


def test_a_current_member_cannot_be_added_twice(same_ward, council, login) -> None:
    client = login(same_ward.supervisor)
    client.post(council_url(council, "council-member-add"), {"agency": same_ward.npo.pk})
    page = client.get(council_url(council)).content.decode()
    assert "すでに構成機関です" in page
    assert CouncilMember.objects.filter(council=council, agency=same_ward.npo).count() == 1


def test_members_read_the_council_but_cannot_change_it(same_ward, council, login) -> None:
    """GIVEN the NPO, a member WHEN its supervisor opens the council THEN it sees the members
    (no management forms); its attempts to add or end a member change nothing (404)."""
    net = same_ward
    client = login(net.npo_supervisor)
    page = client.get(council_url(council))
    assert page.status_code == 200
    body = page.content.decode()
    assert net.guidance.name in body and "構成機関を追加" not in body
    assert council.name in client.get(reverse("conferences:council-list")).content.decode()
    before = list(CouncilMember.objects.values_list("agency_id", "valid_until"))
    add = client.post(council_url(council, "council-member-add"), {"agency": net.welfare.pk})
    end = client.post(council_url(council, "council-member-end", net.guidance.pk), {})
    close = client.post(council_url(council, "council-end"), {})
    assert add.status_code == end.status_code == close.status_code == 404
    assert list(CouncilMember.objects.values_list("agency_id", "valid_until")) == before
    Council.objects.get(pk=council.pk, valid_until__isnull=True)


def test_outsiders_and_former_members_get_404(same_ward, council, login) -> None:
    """The welfare office (never a member) and child guidance after its membership ended
    are answered 404, as for a council that does not exist; the refusals are audited."""
    net = same_ward
    assert login(net.welfare_intake).get(council_url(council)).status_code == 404
    from conferences import services as conferences

    conferences.council_member_end(
        staff=net.supervisor, council_id=council.pk, agency_id=net.guidance.pk
    )
    assert login(net.guidance_intake).get(council_url(council)).status_code == 404
    listed = login(net.guidance_intake).get(reverse("conferences:council-list"))
    assert council.name not in listed.content.decode()
    missing = reverse("conferences:council-detail", args=[council.pk + 999])
    assert login(net.welfare_intake).get(missing).status_code == 404
    targets = [t for w in RefusalWindow.objects.all() for t in w.targets]
    assert f"council:{council.pk}" in targets


def test_a_member_of_a_different_council_does_not_see_this_one(same_ward, council, login):
    from conferences import services as conferences

    net = same_ward
    other = conferences.council_create(
        staff=net.npo_supervisor, kind="support_council", name="支援会議", members=[net.welfare]
    )
    client = login(net.welfare_intake)
    assert client.get(council_url(other)).status_code == 200
    assert client.get(council_url(council)).status_code == 404


def test_an_administrator_manages_any_council(same_ward, council, admin_client) -> None:
    """GIVEN a superuser (no agency) WHEN it records a council for the NPO and ends one of
    the ward's council's memberships THEN both are done and audited as an administrator's."""
    net = same_ward
    created = admin_client.post(
        reverse("conferences:council-list"),
        {"kind": "support_council", "name": "足立区支援会議", "coordinating_agency": "npo"},
    )
    assert created.status_code == 302
    made = Council.objects.get(name="足立区支援会議")
    assert made.coordinating_agency_id == net.npo.pk
    ended = admin_client.post(council_url(council, "council-member-end", net.npo.pk), {})
    assert ended.status_code == 302
    assert net.npo.pk not in council.member_ids_at(timezone.now())
    events = AuditEvent.objects.filter(action=AuditAction.COUNCIL_SAVED).order_by("-id")[:2]
    assert all(e.detail["by_admin"] for e in events)
    assert admin_client.get(reverse("conferences:council-list")).status_code == 200
