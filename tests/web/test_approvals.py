"""The approval queue as a supervisor uses it: the context to decide, and approving several
at once with one confirmation, each approval still its own consent check and audit event."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from consent.models import ConsentRecord
from relay import services
from relay.models import Handoff
from relay.states import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(net):
    """Three hops of the ward desk waiting for sign-off: two sheets to the NPO, one urgent."""
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    hops = []
    for initials, grade, urgency in (("S.K", "j2", "urgent"), ("M.Y", "e5", "normal")):
        sheet = net.sheet(subject_initials=initials, grade=grade, urgency=urgency)
        net.consent(sheet)
        hops.append(net.send(sheet))
    third = net.sheet(subject_initials="R.N")
    net.consent(third, to=[net.guidance])
    hops.append(net.send(third, to=net.guidance))
    assert all(h.status == Status.AWAITING_APPROVAL for h in hops)
    return hops


def test_the_queue_shows_who_what_where_and_how_long(net, login, waiting) -> None:
    body = login(net.supervisor).get(reverse("relay:approvals")).content.decode()
    first = waiting[0]
    row = body.split(f'data-handoff="{first.pk}"')[1].split("</tr>")[0]
    assert "S.K" in row and "中学2年" in row and "急ぎ" in row
    assert net.npo.name in row and net.counselor.user.get_username() in row
    assert "前" in row  # the request's age
    assert reverse("relay:sheet-detail", args=[first.sheet_id]) in row


def test_bulk_approval_asks_once_then_sends_each_under_its_own_check(net, login, waiting) -> None:
    """GIVEN three hops, one of whose consent is withdrawn meanwhile WHEN the supervisor picks
    all three and confirms once THEN two are sent, the third is refused with its reason, and
    each approval is its own audit event."""
    client = login(net.supervisor)
    ids = [str(h.pk) for h in waiting]
    confirm = client.post(reverse("relay:approve-many"), {"handoff": ids})
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "S.K" in page and "M.Y" in page and "R.N" in page
    assert not Handoff.objects.filter(status=Status.SENT).exists()  # nothing until confirmed

    withdrawn = ConsentRecord.objects.get(sheet=waiting[2].sheet)
    services.consent_withdraw(staff=net.counselor, record_id=withdrawn.pk, via="保護者")

    done = client.post(reverse("relay:approve-many"), {"handoff": ids, "confirmed": "yes"})
    assert done.status_code == 302
    statuses = {h.pk: h.status for h in Handoff.objects.filter(pk__in=[h.pk for h in waiting])}
    assert statuses[waiting[0].pk] == Status.SENT and statuses[waiting[1].pk] == Status.SENT
    assert statuses[waiting[2].pk] != Status.SENT
    approved = AuditEvent.objects.filter(action=AuditAction.HANDOFF_APPROVED)
    assert sorted(e.object_id for e in approved) == sorted(str(h.pk) for h in waiting[:2])
    follow = client.get(reverse("relay:approvals")).content.decode()
    assert f"#{waiting[2].pk}" in follow


def test_bulk_approval_is_for_this_agencys_supervisors_only(net, login, waiting) -> None:
    ids = [str(h.pk) for h in waiting]
    assert login(net.counselor).post(
        reverse("relay:approve-many"), {"handoff": ids, "confirmed": "yes"}
    ).status_code == 403
    other = login(net.npo_supervisor).post(
        reverse("relay:approve-many"), {"handoff": ids, "confirmed": "yes"}
    )
    assert other.status_code == 302
    assert not Handoff.objects.filter(status=Status.SENT).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.HANDOFF_APPROVED).exists()
