"""The printed つなぐシート/相談シート and consent form: what goes on paper, and who may print."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def test_the_owner_prints_the_sheet_with_the_managers_sign_off_box(net, login) -> None:
    """GIVEN a sheet WHEN its counselor opens the printable view THEN the page carries the sheet
    number, the agency, every section's content, and the 管理職確認 box with a date line; the
    read is audited as a print."""
    sheet = net.sheet()
    client = login(net.counselor)
    detail = client.get(reverse("relay:sheet-detail", args=[sheet.pk])).content.decode()
    assert reverse("relay:sheet-print", args=[sheet.pk]) in detail

    body = client.get(reverse("relay:sheet-print", args=[sheet.pk])).content.decode()
    assert "つなぐシート(相談シート)" in body
    assert f"#{sheet.pk}" in body and net.ward.name in body
    assert "2学期から登校しぶり" in body and "不眠の訴えあり" in body
    signoff = body.split('data-testid="manager-signoff"')[1]
    assert "管理職確認" in signoff and "確認した日" in signoff and "署名・印" in signoff
    event = AuditEvent.objects.filter(action=AuditAction.SHEET_VIEWED).last()
    assert event.detail["via"] == "print" and event.sheet_id == sheet.pk


def test_the_counselor_may_leave_sections_off_the_paper(net, login) -> None:
    sheet = net.sheet()
    body = (
        login(net.counselor)
        .get(reverse("relay:sheet-print", args=[sheet.pk]), {"sections": ["basic", "consultation"]})
        .content.decode()
    )
    assert "2学期から登校しぶり" in body
    assert "不眠の訴えあり" not in body and "母と二人暮らし" not in body
    printed = AuditEvent.objects.filter(action=AuditAction.SHEET_VIEWED).last()
    assert printed.detail["via"] == "print"


def test_a_receiver_prints_only_what_was_shared_and_others_get_404(net, login, sent) -> None:
    """GIVEN a hop sharing basic + consultation WHEN the receiver prints THEN only those
    sections are on paper, asking for more changes nothing; another agency gets 404."""
    sheet, _hop = sent
    url = reverse("relay:sheet-print", args=[sheet.pk])
    body = login(net.npo_intake).get(url, {"sections": ["health", "home"]}).content.decode()
    assert "2学期から登校しぶり" in body
    assert "不眠の訴えあり" not in body and "母と二人暮らし" not in body
    assert login(net.welfare_intake).get(url).status_code == 404


def test_the_consent_form_names_the_staff_member_and_the_sheet(net, login) -> None:
    """GIVEN a counselor registered as 佐藤 美咲 WHEN the consent form is printed THEN the
    explainer's line names the agency and 「佐藤 美咲」 (family name first), and the form
    carries the sheet's number and the consent record's, at the top and beside the
    signatures (where a filed paper copy is matched to its sheet)."""
    user = net.counselor.user
    user.last_name, user.first_name = "佐藤", "美咲"
    user.save(update_fields=["last_name", "first_name"])
    sheet = net.sheet()
    record = net.consent(sheet, to=[net.npo])
    body = login(net.counselor).get(reverse("relay:consent-print", args=[record.pk])).content.decode()
    staff_line = body.split('data-testid="explainer"')[1].split("</span>")[0]
    assert net.ward.name in staff_line and "佐藤 美咲" in staff_line
    header = body.split('class="form-ref"')[1][:200]
    assert f"#{sheet.pk}" in header and f"#{record.pk}" in header
    form_id = body.split('data-testid="form-id"')[1][:300]
    assert f"シート番号 #{sheet.pk}" in form_id and f"同意記録 #{record.pk}" in form_id


def test_the_consent_form_leaves_a_line_rather_than_print_a_login_id(net, login) -> None:
    """A staff member with no registered name: the paper gets a line to write the name on,
    never the login ID (which means nothing to a family)."""
    sheet = net.sheet()
    record = net.consent(sheet, to=[net.npo])
    body = login(net.counselor).get(reverse("relay:consent-print", args=[record.pk])).content.decode()
    staff_line = body.split('data-testid="explainer"')[1].split("</span></span>")[0]
    assert net.counselor.user.get_username() not in staff_line
