"""What the screens say after an action, and on a sent sheet's edit page: natural sentences,
never a button's label in quotes, never a promise the system does not keep."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from relay.models import Handoff
from relay.states import Status

pytestmark = pytest.mark.django_db


def _said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_each_handoff_action_is_confirmed_in_a_sentence(net, login, sent) -> None:
    """GIVEN a sent hop WHEN the intake acknowledges, accepts and completes THEN each is
    confirmed as a sentence (受領を確認しました。), never as 「「受領を確認する」を記録しました。」."""
    _sheet, hop = sent
    client = login(net.npo_intake)
    url = reverse("relay:handoff-action", args=[hop.pk, "acknowledge"])
    said = _said(client.post(url, {}, follow=True))
    assert said == ["受領を確認しました。送付元に伝わります。"]
    said = _said(
        login(net.npo_supervisor).post(
            reverse("relay:handoff-action", args=[hop.pk, "accept"]), {}, follow=True
        )
    )
    assert said == ["引き継ぎを受け入れました。"]
    for message in said:
        assert "「" not in message and "」" not in message


def test_approval_and_a_request_for_approval_say_what_happened(net, login) -> None:
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo])
    sent = login(net.counselor).post(
        reverse("relay:send", args=[sheet.pk]),
        {"recipients": [net.npo.pk], "sections": ["basic"], "purpose": "support"},
        follow=True,
    )
    hop = Handoff.objects.get(sheet=sheet)
    assert hop.status == Status.AWAITING_APPROVAL
    assert _said(sent) == [f"{net.npo.name} への送付(引き継ぎ #{hop.pk})を管理職に依頼しました。"]
    approved = login(net.supervisor).post(
        reverse("relay:handoff-action", args=[hop.pk, "approve"]), {}, follow=True
    )
    assert _said(approved) == ["承認して送付しました。"]


def test_a_sent_sheets_edit_page_says_edits_are_not_passed_on(net, login, sent) -> None:
    """The edit page of a sent sheet does not promise 「送付するまでは何度でも直せます」: it
    says edits do not reach the recipients by themselves and go out again through consent."""
    sheet, _hop = sent
    client = login(net.counselor)
    body = client.get(reverse("relay:sheet-edit", args=[sheet.pk])).content.decode()
    assert "何度でも直せます" not in body
    assert "送付先へ自動では届きません" in body and "同意の範囲を確かめて" in body
    draft = net.sheet()
    body = client.get(reverse("relay:sheet-edit", args=[draft.pk])).content.decode()
    assert "送付するまでは何度でも直せます。" in body and "自動では届きません" not in body


def test_the_same_in_english(net, login, sent) -> None:
    sheet, hop = sent
    client = login(net.npo_intake)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    said = _said(
        client.post(
            reverse("relay:handoff-action", args=[hop.pk, "acknowledge"]), {}, follow=True
        )
    )
    assert said == ["Receipt acknowledged. The sender will be told."]
    counselor = login(net.counselor)
    counselor.post(reverse("set_language"), {"language": "en", "next": "/"})
    body = counselor.get(reverse("relay:sheet-edit", args=[sheet.pk])).content.decode()
    assert "do not reach the recipients by themselves" in body
