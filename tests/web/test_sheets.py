"""The sheet screens: create with Japanese validation, view per agency, edit (versioned once
sent), attachments streamed after an audited access check."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from relay import services
from relay.models import ReferralSheet, SheetVersion

pytestmark = pytest.mark.django_db

FORM = {
    "subject_initials": "K.S",
    "grade": "j1",
    "gender": "",
    "consulted_on": "2026-11-20",
    "consulter": "guardian",
    "consultation": "9月から朝起きられず、登校できない日が続いている。",
    "categories": ["school_refusal", "family"],
    "urgency": "normal",
    "absence_days_month": "8",
    "absence_reason": "school_refusal",
    "mental_condition": "不眠の訴えあり",
    "wish_person": "少人数の場所なら行けるかもしれない",
}


def test_new_sheet_form_has_sections_as_fieldsets_and_flags_the_full_name(net, login) -> None:
    response = login(net.counselor).get(reverse("relay:sheet-new"))
    assert response.status_code == 200
    body = response.content.decode()
    for section in ("基本情報", "相談内容", "出欠・学校生活", "家庭の状況", "心身の状態・特性"):
        assert f"<legend>{section}" in body
    assert "要配慮" in body
    assert "氏名を記録する(例外的な場合のみ)" in body
    assert 'class="exceptional"' in body


def test_counselor_creates_a_sheet(net, login) -> None:
    """GIVEN the new-sheet form WHEN a counselor saves it THEN the sheet exists, owned by the
    counselor's agency, and its creation is audited."""
    response = login(net.counselor).post(reverse("relay:sheet-new"), FORM)
    assert response.status_code == 302
    sheet = ReferralSheet.objects.get()
    assert response["Location"] == reverse("relay:sheet-detail", args=[sheet.pk])
    assert sheet.owner_agency == net.ward and sheet.subject_initials == "K.S"
    assert sheet.categories == ["family", "school_refusal"]
    assert AuditEvent.objects.filter(action=AuditAction.SHEET_CREATED, sheet_id=sheet.pk).exists()


def test_validation_messages_are_japanese_and_next_to_the_field(net, login) -> None:
    data = {
        **FORM,
        "subject_initials": "明石 太郎",
        "consultation": "",
        "absence_days_month": "400",
    }
    response = login(net.counselor).post(reverse("relay:sheet-new"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "イニシャルで入力してください" in body
    assert 'id="id_subject_initials_error"' in body
    assert 'id="id_consultation_error"' in body
    assert "この項目は必須です。" in body
    assert 'id="id_absence_days_month_error"' in body
    assert not ReferralSheet.objects.exists()


def test_viewer_and_intake_cannot_create_sheets(net, login) -> None:
    assert login(net.viewer).get(reverse("relay:sheet-new")).status_code == 403
    assert login(net.npo_intake).post(reverse("relay:sheet-new"), FORM).status_code == 403
    assert not ReferralSheet.objects.exists()


def test_sheet_page_is_audited_and_hidden_from_other_agencies(net, login) -> None:
    sheet = net.sheet()
    url = reverse("relay:sheet-detail", args=[sheet.pk])
    response = login(net.counselor).get(url)
    assert response.status_code == 200
    assert "A.T" in response.content.decode()
    assert (
        AuditEvent.objects.filter(action=AuditAction.SHEET_VIEWED, sheet_id=sheet.pk).count() == 1
    )
    # Another agency: the same answer as for a sheet that does not exist.
    outsider = login(net.npo_intake).get(url)
    assert outsider.status_code == 404
    assert "ページが見つかりません" in outsider.content.decode()  # the site's own 404 page
    assert "A.T" not in outsider.content.decode()
    assert login(net.npo_intake).get(reverse("relay:sheet-detail", args=[9999])).status_code == 404
    assert (
        login(net.npo_intake).get(reverse("relay:sheet-edit", args=[sheet.pk])).status_code == 403
    )


def test_receiver_sees_only_the_shared_sections(net, login, sent) -> None:
    sheet, _hop = sent
    body = (
        login(net.npo_intake).get(reverse("relay:sheet-detail", args=[sheet.pk])).content.decode()
    )
    assert "2学期から登校しぶり" in body  # consultation: shared
    assert "不眠の訴えあり" not in body  # health: not shared
    assert "母と二人暮らし" not in body  # home: not shared
    assert 'data-section="health"' not in body


def test_draft_is_edited_in_place(net, login) -> None:
    sheet = net.sheet()
    data = {**FORM, "subject_initials": "A.T", "consultation": "追記した相談内容"}
    response = login(net.counselor).post(reverse("relay:sheet-edit", args=[sheet.pk]), data)
    assert response.status_code == 302
    sheet.refresh_from_db()
    assert sheet.consultation == "追記した相談内容" and sheet.version == 1
    assert not SheetVersion.objects.exists()


def test_edit_after_send_needs_a_reason_and_keeps_a_version(net, login, sent) -> None:
    sheet, _hop = sent
    client = login(net.counselor)
    url = reverse("relay:sheet-edit", args=[sheet.pk])
    page = client.get(url).content.decode()
    assert "このシートは送付済みです" in page and 'name="reason"' in page
    data = {**FORM, "subject_initials": "A.T", "consultation": "送付後に訂正した内容"}
    refused = client.post(url, data)
    assert refused.status_code == 400
    assert 'id="id_reason_error"' in refused.content.decode()
    ok = client.post(url, {**data, "reason": "相談日の記載誤りを訂正"})
    assert ok.status_code == 302
    sheet.refresh_from_db()
    assert sheet.version == 2
    assert SheetVersion.objects.get(sheet=sheet).reason == "相談日の記載誤りを訂正"


def test_attachment_is_streamed_as_a_download_after_an_audited_check(net, login) -> None:
    sheet = net.sheet()
    client = login(net.counselor)
    upload = SimpleUploadedFile("報告書.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    response = client.post(
        reverse("relay:attachment-new", args=[sheet.pk]),
        {"title": "学校からの報告", "file": upload},
    )
    assert response.status_code == 302
    attachment = sheet.attachments.get()
    url = reverse("relay:attachment-download", args=[attachment.pk])
    download = client.get(url)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content) == b"%PDF-1.4 test"
    assert AuditEvent.objects.filter(action=AuditAction.ATTACHMENT_DOWNLOADED).count() == 1
    # Another agency, and a receiver whose hop does not share attachments: 404.
    assert login(net.npo_intake).get(url).status_code == 404
    net.consent(sheet)
    net.send(sheet)
    assert login(net.npo_intake).get(url).status_code == 404


def test_attachment_of_a_wrong_type_is_refused(net, login) -> None:
    sheet = net.sheet()
    upload = SimpleUploadedFile("x.html", b"<script>", content_type="text/html")
    login(net.counselor).post(
        reverse("relay:attachment-new", args=[sheet.pk]), {"title": "x", "file": upload}
    )
    assert not sheet.attachments.exists()


def test_sheet_list_shows_own_and_received(net, login, sent) -> None:
    sheet, hop = sent
    own = login(net.counselor).get(reverse("relay:sheet-list")).content.decode()
    assert f"シート #{sheet.pk}" in own
    received = login(net.npo_intake).get(reverse("relay:sheet-list")).content.decode()
    assert reverse("relay:handoff-detail", args=[hop.pk]) in received
    assert "A.T" not in received  # the list itself reads no sheet content of others


def test_services_reject_what_the_view_would_not_catch(net) -> None:
    """The view hands the service the form's data; the service re-validates it."""
    with pytest.raises(Exception):  # noqa: B017
        services.sheet_create(staff=net.counselor, data={"subject_initials": "山田"})
