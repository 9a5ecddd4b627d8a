"""The consent screen, the printable consent form, lawful bases and withdrawal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consent.models import Approval, ConsentRecord, ConsentStatus
from relay.states import Status

pytestmark = pytest.mark.django_db


def _consent_form(net, **overrides):
    data = {
        "basis": "consent",
        "decision": "permit",
        "grantors": ["guardian"],
        "method": "written",
        "child_assent": "assented",
        "obtained_on": timezone.localdate().isoformat(),
        "recipients": [str(net.npo.pk), str(net.guidance.pk)],
        "sections": ["basic", "consultation", "health"],
        "purposes": ["support"],
        "valid_until": (timezone.localdate() + timedelta(days=180)).isoformat(),
    }
    data.update(overrides)
    return data


def test_consent_screen_lists_the_directory_and_flags_special_care(net, login) -> None:
    sheet = net.sheet()
    body = login(net.counselor).get(reverse("relay:consent-new", args=[sheet.pk])).content.decode()
    assert net.npo.name in body and net.welfare.name in body
    assert "要配慮" in body
    assert 'name="scanned_form"' in body
    assert "この内容で同意書を印刷" in body


def test_counselor_records_consent(net, login) -> None:
    """GIVEN the consent screen WHEN a counselor records the guardian's written consent THEN
    the record covers exactly the chosen recipients, sections and purpose until the chosen day."""
    sheet = net.sheet()
    response = login(net.counselor).post(
        reverse("relay:consent-new", args=[sheet.pk]), _consent_form(net)
    )
    assert response.status_code == 302
    record = ConsentRecord.objects.get()
    assert set(record.recipient_agencies.all()) == {net.npo, net.guidance}
    assert record.sections == ["basic", "consultation", "health"]
    assert record.grantors == ["guardian"] and record.method == "written"
    assert record.explanation_version == "tsunagu-consent-form-v1"
    last_day = timezone.localtime(record.valid_until - timedelta(seconds=1)).date()
    assert last_day == timezone.localdate() + timedelta(days=180)


def test_missing_fields_are_explained_next_to_them(net, login) -> None:
    sheet = net.sheet()
    data = _consent_form(net, grantors=[], recipients=[], sections=[])
    response = login(net.counselor).post(reverse("relay:consent-new", args=[sheet.pk]), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "同意した人を選んでください。" in body
    assert "提供先の機関か種別を1つ以上選んでください。" in body
    assert not ConsentRecord.objects.exists()


def test_lawful_basis_waits_for_the_supervisor(net, login) -> None:
    sheet = net.sheet()
    data = _consent_form(net, basis="life_or_body", reason="")
    refused = login(net.counselor).post(reverse("relay:consent-new", args=[sheet.pk]), data)
    assert "理由を具体的に記入してください。" in refused.content.decode()
    data["reason"] = "本人の生命に危険があり、保護者と連絡が取れないため"
    login(net.counselor).post(reverse("relay:consent-new", args=[sheet.pk]), data)
    record = ConsentRecord.objects.get()
    assert record.approval == Approval.PENDING

    queue = login(net.supervisor).get(reverse("relay:approvals")).content.decode()
    assert f'data-basis-record="{record.pk}"' in queue
    decide = reverse("relay:basis-decide", args=[record.pk])
    assert login(net.counselor).post(decide, {"decision": "approve"}).status_code == 403
    login(net.supervisor).post(decide, {"decision": "reject", "note": ""})
    record.refresh_from_db()
    assert record.approval == Approval.PENDING  # a rejection needs a reason
    login(net.supervisor).post(decide, {"decision": "approve"})
    record.refresh_from_db()
    assert record.approval == Approval.APPROVED


def test_printable_consent_form_is_prefilled(net, login) -> None:
    sheet = net.sheet()
    record = net.consent(sheet, to=[net.npo], sections=["basic", "health"], days=30)
    response = login(net.counselor).get(reverse("relay:consent-print", args=[record.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert net.npo.name in body
    assert "心身の状態・特性" in body and "特に慎重に扱う情報です" in body
    assert "支援の提供と調整のため" in body
    assert "お名前(署名)" in body
    assert "同意しなくても、今の相談や支援を受けられなくなることはありません。" in body
    last_day = timezone.localdate(record.valid_until - timedelta(seconds=1))
    assert f"{last_day.year}年{last_day.month}月{last_day.day}日" in body
    assert "A.T" not in body  # the family writes the name; the form carries no sheet content
    assert login(net.npo_intake).get(
        reverse("relay:consent-print", args=[record.pk])
    ).status_code in (403, 404)


def test_print_before_recording_uses_the_screens_choices(net, login) -> None:
    sheet = net.sheet()
    response = login(net.counselor).post(
        reverse("relay:consent-print-draft", args=[sheet.pk]), _consent_form(net)
    )
    assert response.status_code == 200
    assert net.guidance.name in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_withdrawal_stops_the_hops_sent_under_it(net, login, sent) -> None:
    _sheet, hop = sent
    record = hop.consent
    page = login(net.counselor).get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    assert reverse("relay:consent-withdraw", args=[record.pk]) in page
    url = reverse("relay:consent-withdraw", args=[record.pk])
    assert login(net.npo_intake).post(url, {"via": "x"}).status_code in (403, 404)
    response = login(net.counselor).post(url, {"via": "保護者(母)から電話で", "reason": ""})
    assert response.status_code == 302
    record.refresh_from_db()
    hop.refresh_from_db()
    assert record.status == ConsentStatus.WITHDRAWN
    assert hop.status == Status.WITHDRAWN
    body = (
        login(net.npo_intake).get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    )
    assert "2学期から登校しぶり" not in body


def test_supervisor_voids_a_record_entered_in_error(net, login, sent) -> None:
    _sheet, hop = sent
    record = hop.consent
    url = reverse("relay:consent-entered-in-error", args=[record.pk])
    page = (
        login(net.supervisor)
        .get(reverse("relay:sheet-detail", args=[hop.sheet_id]))
        .content.decode()
    )
    assert url in page
    assert (
        url
        not in login(net.counselor)
        .get(reverse("relay:sheet-detail", args=[hop.sheet_id]))
        .content.decode()
    )
    assert login(net.counselor).post(url, {"reason": "x"}).status_code == 403
    login(net.supervisor).post(url, {"reason": "別の人のシートに記録した"})
    record.refresh_from_db()
    hop.refresh_from_db()
    assert record.status == ConsentStatus.ENTERED_IN_ERROR
    assert hop.status == Status.WITHDRAWN
