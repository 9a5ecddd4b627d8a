"""The send screen: suggestions, the live consent check (htmx), and submit."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agencies.actors import Staff
from agencies.models import Category, Role
from audit.models import AuditAction, AuditEvent
from relay.models import Handoff
from relay.states import Status
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _send(net, recipients, sections=("basic", "consultation"), purpose="support"):
    return {
        "recipients": [str(a.pk) for a in recipients],
        "sections": list(sections),
        "purpose": purpose,
        "message": "よろしくお願いします。",
    }


def test_send_screen_suggests_matching_agencies_and_defaults_to_consented_sections(
    net, login
) -> None:
    net.npo.categories.add(Category.objects.get(code="school_refusal"))
    sheet = net.sheet(municipality="足立区")
    net.consent(sheet, sections=["basic", "consultation"])
    body = login(net.counselor).get(reverse("relay:send", args=[sheet.pk])).content.decode()
    suggestions = body.split('data-testid="suggestions"')[1].split("</details>")[0]
    assert net.npo.name in suggestions
    assert "分野: 不登校" in suggestions and "同じ市区町村" in suggestions
    assert 'value="basic" checked' in body and 'value="consultation" checked' in body
    assert 'value="health" checked' not in body
    assert 'hx-post="' + reverse("relay:send-check", args=[sheet.pk]) in body


def test_live_check_shows_per_recipient_and_section_with_the_reason(net, login) -> None:
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo], sections=["basic", "consultation"])
    response = login(net.counselor).post(
        reverse("relay:send-check", args=[sheet.pk]),
        _send(net, [net.npo, net.welfare], sections=["basic", "health"]),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body  # a partial
    assert "次の項目の提供には同意がありません: 心身の状態・特性" in body
    assert f"{net.welfare.name} への提供には同意がありません。" in body
    assert body.count("送付できません") == 2


def test_live_check_and_send_are_404_for_another_agencys_counselor(net, login) -> None:
    """Probing consent of another agency's sheet answers exactly as a missing sheet does."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo])
    outsider = Staff.for_user(
        MembershipFactory(agency=net.welfare, role=Role.COUNSELOR, user__username="w-c").user
    )
    client = login(outsider)
    for url in (
        reverse("relay:send-check", args=[sheet.pk]),
        reverse("relay:send", args=[sheet.pk]),
    ):
        assert client.post(url, _send(net, [net.npo])).status_code == 404
        assert (
            client.post(url.replace(str(sheet.pk), "9999"), _send(net, [net.npo])).status_code
            == 404
        )
    assert not Handoff.objects.exists()


def test_send_outside_consent_is_blocked_with_the_reason_and_nothing_is_created(net, login) -> None:
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo])
    response = login(net.counselor).post(
        reverse("relay:send", args=[sheet.pk]), _send(net, [net.npo, net.welfare])
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "同意の範囲外の送付先があるため、送付できません。" in body
    assert f"{net.welfare.name} への提供には同意がありません。" in body
    assert not Handoff.objects.exists()


def test_send_goes_straight_out_without_approval(net, login) -> None:
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    response = login(net.counselor).post(
        reverse("relay:send", args=[sheet.pk]), _send(net, [net.npo, net.guidance])
    )
    assert response.status_code == 302
    hops = list(Handoff.objects.order_by("to_agency__slug"))
    assert [h.status for h in hops] == [Status.SENT, Status.SENT]
    assert {h.to_agency for h in hops} == {net.npo, net.guidance}
    assert hops[0].message == "よろしくお願いします。"


def test_send_goes_to_the_supervisor_when_the_agency_asks(net, login) -> None:
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    sheet = net.sheet()
    net.consent(sheet)
    client = login(net.counselor)
    assert "承認を依頼する" in client.get(reverse("relay:send", args=[sheet.pk])).content.decode()
    client.post(reverse("relay:send", args=[sheet.pk]), _send(net, [net.npo]))
    hop = Handoff.objects.get()
    assert hop.status == Status.AWAITING_APPROVAL
    assert (
        login(net.npo_intake).get(reverse("relay:handoff-detail", args=[hop.pk])).status_code == 404
    )


def test_intake_and_viewer_cannot_send(net, login, sent) -> None:
    sheet, _hop = sent
    for staff in (net.viewer, net.npo_intake):
        client = login(staff)
        assert client.get(reverse("relay:send", args=[sheet.pk])).status_code == 403
        assert (
            client.post(
                reverse("relay:send", args=[sheet.pk]), _send(net, [net.guidance])
            ).status_code
            == 403
        )


def test_receiver_relays_onward_under_the_same_consent(net, login, sent) -> None:
    sheet, hop = sent
    from relay import services

    services.handoff_accept(staff=net.npo_supervisor, handoff_id=hop.pk)
    client = login(net.npo_supervisor)
    page = client.get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    onward_url = reverse("relay:send", args=[sheet.pk]) + f"?parent={hop.pk}"
    assert onward_url in page
    form = client.get(onward_url).content.decode()
    assert 'value="health"' not in form  # cannot pass on what it cannot see
    refused = client.post(
        reverse("relay:send", args=[sheet.pk]), {**_send(net, [net.welfare]), "parent": hop.pk}
    )
    assert refused.status_code == 400  # the consent names only the NPO
    assert not Handoff.objects.filter(from_agency=net.npo).exists()
    assert AuditEvent.objects.filter(action=AuditAction.HANDOFF_SENT).count() == 1


def test_receiver_relays_onward_when_consent_covers_the_next_agency(net, login) -> None:
    """GIVEN consent naming the NPO and the welfare office WHEN the NPO, having accepted,
    relays onward THEN a new hop from the NPO is sent, linked to the one it received."""
    from relay import services

    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.welfare])
    first = net.send(sheet)
    services.handoff_accept(staff=net.npo_supervisor, handoff_id=first.pk)
    response = login(net.npo_supervisor).post(
        reverse("relay:send", args=[sheet.pk]), {**_send(net, [net.welfare]), "parent": first.pk}
    )
    assert response.status_code == 302
    onward = Handoff.objects.get(from_agency=net.npo)
    assert onward.status == Status.SENT and onward.parent_id == first.pk
    assert onward.to_agency == net.welfare
    page = (
        login(net.npo_supervisor)
        .get(reverse("relay:handoff-detail", args=[first.pk]))
        .content.decode()
    )
    assert reverse("relay:handoff-detail", args=[onward.pk]) in page
