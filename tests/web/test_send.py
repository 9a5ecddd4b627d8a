"""The send screen: suggestions, the live consent check (htmx), and submit."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from agencies.actors import Staff
from agencies.models import Category, Role
from audit.models import AuditAction, AuditEvent
from relay import services
from relay.models import Handoff
from relay.states import Status
from tests.factories import AgencyFactory, MembershipFactory

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
    net.consent(sheet, to=[net.guidance], sections=["basic", "consultation"])
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


# --- Recipients: those the consent names are ticked; suggestions nearest first -------------


def _checked_recipients(body: str) -> set[int]:
    """The recipient checkboxes the page ticks."""
    return {
        int(value)
        for value in re.findall(r'name="recipients" value="(\d+)" checked', body)
    }


def _suggested(body: str) -> list[str]:
    """Names of the suggested agencies, in the order the page shows them."""
    return re.findall(r"<strong>([^<]+)</strong>", _suggestion_block(body))


def _suggestion_block(body: str) -> str:
    return body.split('data-testid="suggestions"')[1].split("<details")[0]


def test_recipients_the_consent_names_are_ticked_once_and_listed_first(net, login) -> None:
    """GIVEN a consent in force naming the NPO and the guidance center, a withdrawn one naming
    the welfare office, and a consent by kind WHEN the counselor opens the send page THEN the
    two named agencies are ticked, each with one checkbox, and nothing else is."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    withdrawn = net.consent(sheet, to=[net.welfare])
    services.consent_withdraw(staff=net.counselor, record_id=withdrawn.pk, via="保護者")
    body = login(net.counselor).get(reverse("relay:send", args=[sheet.pk])).content.decode()
    assert _checked_recipients(body) == {net.npo.pk, net.guidance.pk}
    consented = body.split('data-testid="consented"')[1].split("</div>")[0]
    assert net.npo.name in consented and net.guidance.name in consented
    assert net.welfare.name not in consented
    for agency in (net.npo, net.guidance, net.welfare):
        assert body.count(f'name="recipients" value="{agency.pk}"') == 1


def test_a_recipient_with_a_hop_under_way_is_listed_but_not_ticked(net, login) -> None:
    """Sending again to an agency whose hop is still open would make a second hop: it stays in
    the consented list, unticked, with the hop's state; a cancelled hop does not hold it."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    net.send(sheet, to=net.npo)
    cancelled = net.send(sheet, to=net.guidance)
    services.handoff_cancel(staff=net.counselor, handoff_id=cancelled.pk, reason="other")
    body = login(net.counselor).get(reverse("relay:send", args=[sheet.pk])).content.decode()
    assert _checked_recipients(body) == {net.guidance.pk}
    assert "引き継ぎ中(送付済み)" in body


def test_a_posted_choice_is_kept_over_the_consent_default(net, login) -> None:
    """After a refused send the page shows what the counselor chose, not the defaults."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    response = login(net.counselor).post(
        reverse("relay:send", args=[sheet.pk]), _send(net, [net.welfare])
    )
    assert response.status_code == 400
    assert _checked_recipients(response.content.decode()) == {net.welfare.pk}


def test_suggestions_rank_municipality_then_the_wards_then_prefecture_then_category(
    net, login
) -> None:
    """GIVEN an Adachi 中学2年 sheet about school refusal and agencies for school refusal in
    Adachi, another Tokyo ward, a Tama city, Tokyo-wide, Akashi and Yokohama WHEN the counselor
    opens the send page THEN Adachi comes first, then the ward, then Tokyo (the more shared
    categories first), then the rest; an agency for other ages is not suggested."""
    school_refusal = Category.objects.get(code="school_refusal")
    family = Category.objects.get(code="family")
    net.ward.prefecture = "東京都"
    net.ward.save()

    def agency(name: str, prefecture: str, municipality: str, *cats, **extra) -> None:
        made = AgencyFactory(
            name=name, prefecture=prefecture, municipality=municipality, **extra
        )
        made.categories.add(*(cats or [school_refusal]))

    agency("明石の教室", "兵庫県", "明石市")
    agency("横浜の教室", "神奈川県", "横浜市")
    agency("八王子の相談", "東京都", "八王子市")
    agency("都の相談(二分野)", "東京都", "東京都", school_refusal, family)
    agency("新宿の居場所", "東京都", "新宿区")
    agency("足立の居場所", "東京都", "足立区")
    agency("足立の大人向け", "東京都", "足立区", age_min=18)
    agency("文京の居場所(二分野)", "東京都", "文京区", school_refusal, family)
    agency("品川の別分野", "東京都", "品川区", Category.objects.get(code="hikikomori"))
    sheet = net.sheet(municipality="足立区", grade="j2", categories=["school_refusal", "family"])
    body = login(net.counselor).get(reverse("relay:send", args=[sheet.pk])).content.decode()
    order = [name for name in _suggested(body) if "テスト機関" not in name]
    expected = [
        "足立の居場所",
        "文京の居場所(二分野)",
        "新宿の居場所",
        "都の相談(二分野)",
        "八王子の相談",
        "明石の教室",
        "横浜の教室",
    ]
    assert len(order) >= 5 and order == expected[: len(order)]
    suggestions = _suggestion_block(body)
    assert "足立の大人向け" not in suggestions  # for adults: a 中学2年 is not one
    assert "品川の別分野" not in suggestions  # neither local nor in the sheet's categories
    assert "東京23区" in suggestions and "同じ都道府県" in suggestions
