"""The story of issue 6, in a real browser (Debian's Chromium) against a live server.

A ward counselor records a consultation, records the guardian's consent, prints the consent
form and sends the sheet to two agencies; the supervisor approves; the receiving intake
acknowledges, accepts, cannot see an unshared section and completes with an outcome; the
counselor sees the outcome; the supervisor filters the audit log to the sheet and exports it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from agencies.models import Agency
from audit.models import AuditAction, AuditEvent
from audit.tasks import verify_new_events
from consent.models import ConsentRecord
from relay.models import Handoff, ReferralSheet
from relay.states import Status

# The live server needs committed data: transactional tests (load_demo recreates the category
# vocabulary that a previous test's flush took away).
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SAFETYNET = "adachi-safety-net-adachi"
# An Adachi pupil is relayed inside Tokyo (a Yokohama centre serves Yokohama, ages 6-15).
EDUCATION = "tokyo-education-counseling-center"
HEALTH_NOTE = "夜眠れないと本人が話している"
CONSULTATION = (
    "半年ほど前から自宅にこもりがち。母親が窓口に来所し、本人に合う居場所を探したいと相談。"
)


def _pk(slug: str) -> int:
    return Agency.objects.values_list("pk", flat=True).get(slug=slug)


def _check_agency(page: Page, agency_id: int) -> None:
    box = page.locator(f"#recipients-picker input[name=recipients][value='{agency_id}']")
    if not box.is_visible():
        page.locator("#recipients-picker details summary").click()
    box.check()


def _fill_sheet(page: Page) -> None:
    page.fill("#id_subject_initials", "K.S")
    page.fill("#id_birth_year", "2009")
    page.select_option("#id_grade", "h1")
    page.fill("#id_municipality", "足立区")
    page.fill("#id_consulted_on", timezone.localdate().isoformat())
    page.select_option("#id_consulter", "guardian")
    page.fill("#id_consultation", CONSULTATION)
    page.check("input[name=categories][value=hikikomori]")
    page.check("input[name=categories][value=school_refusal]")
    page.fill("#id_absence_days_since_april", "42")
    page.select_option("#id_absence_reason", "school_refusal")
    page.fill("#id_home_situation", "母と本人の二人暮らし。母は日中就労。")
    page.fill("#id_mental_condition", HEALTH_NOTE)
    page.fill("#id_wish_person", "人が少ない場所なら行ってみたい")


def _act(page: Page, label: str, **fields: str) -> None:
    """Open an action's panel on the handoff page, fill it, and submit it."""
    panel = page.locator("[data-testid=actions] details.action", has_text=label)
    panel.locator("summary").click()
    for selector, value in fields.items():
        target = panel.locator(f"[name$='-{selector}']")
        if target.evaluate("el => el.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    panel.locator("button[type=submit]").click()


def test_counselor_to_intake_and_back_with_approval_and_audit(
    open_as, live_server, shoot, csp_violations
) -> None:
    # --- The counselor records the consultation ----------------------------------------------
    counselor = open_as("adachi-counselor")
    shoot(counselor, "home-counselor", full_page=False)
    counselor.get_by_role("link", name="新しいシートを作成").first.click()
    _fill_sheet(counselor)
    shoot(counselor, "sheet-form")
    shoot(counselor, "sheet-form-top", center="#section-basic")
    counselor.get_by_role("button", name="下書きとして保存").click()
    expect(counselor.locator(".messages")).to_contain_text("を保存しました")
    sheet = ReferralSheet.objects.order_by("-id").first()  # the demo network has others
    assert sheet is not None
    assert (
        sheet.subject_initials == "K.S"
        and sheet.owner_agency.slug == "adachi-fukushi-marugoto-soudan"
    )

    # --- ... records the guardian's consent for two agencies (not the health section) -------
    counselor.get_by_role("link", name="同意を記録").first.click()
    counselor.check("input[name=grantors][value=guardian]")
    counselor.select_option("#id_child_assent", "assented")
    _check_agency(counselor, _pk(SAFETYNET))
    _check_agency(counselor, _pk(EDUCATION))
    for section in ("basic", "consultation", "attendance", "home"):
        counselor.check(f"#sections-picker input[value={section}]")
    counselor.check("input[name=purposes][value=support]")
    shoot(counselor, "consent-form")
    counselor.get_by_role("button", name="記録する").click()
    expect(counselor.locator(".messages")).to_contain_text("同意を記録しました")
    record = ConsentRecord.objects.filter(sheet=sheet).get()
    assert {a.slug for a in record.recipient_agencies.all()} == {SAFETYNET, EDUCATION}
    assert "health" not in record.sections

    # --- ... prints the consent form for the guardian to sign -------------------------------
    counselor.get_by_role("link", name="同意書を印刷").click()
    expect(counselor.locator("#consent-title")).to_be_visible()
    expect(counselor.locator(".consent-sheet")).to_contain_text("セーフティネットあだち")
    expect(counselor.locator(".consent-sheet")).to_contain_text("お名前(署名)")
    shoot(counselor, "consent-print")
    counselor.emulate_media(media="print")
    expect(counselor.locator(".site-header")).to_be_hidden()  # the print stylesheet applies
    shoot(counselor, "consent-print-media")
    counselor.emulate_media(media="screen")
    counselor.go_back()

    # --- ... sends to both; the live check says consent covers each -------------------------
    # The recipients and sections the consent names come ticked: chosen once, with the family.
    counselor.get_by_role("link", name="送付する").first.click()
    for section in ("basic", "consultation", "attendance", "home"):
        expect(counselor.locator(f"#sections-picker input[value={section}]")).to_be_checked()
    expect(counselor.locator("#sections-picker input[value=health]")).not_to_be_checked()
    consented = counselor.locator("[data-testid=consented] input[name=recipients]")
    expect(consented).to_have_count(2)
    for slug in (SAFETYNET, EDUCATION):
        box = counselor.locator(f"[data-testid=consented] input[value='{_pk(slug)}']")
        expect(box).to_be_checked()
    counselor.locator("#sections-picker input[value=home]").uncheck()
    coverage = counselor.locator("[data-testid=coverage]")
    expect(coverage.locator("tr.covered")).to_have_count(2)
    counselor.fill(
        "#id_message", "ご本人は外出に不安があります。まずは保護者との面談をお願いします。"
    )
    shoot(counselor, "send")
    shoot(counselor, "send-coverage", center="[data-testid=coverage]")
    counselor.set_viewport_size({"width": 768, "height": 1024})  # a ward desk's tablet
    shoot(counselor, "send-coverage-768", center="[data-testid=coverage]")
    counselor.set_viewport_size({"width": 1280, "height": 900})
    counselor.get_by_role("button", name="承認を依頼する").click()
    expect(counselor.locator(".messages")).to_contain_text("管理職に依頼しました")
    hops = list(Handoff.objects.filter(sheet=sheet).order_by("id"))
    assert [h.status for h in hops] == [Status.AWAITING_APPROVAL] * 2
    to_safetynet = next(h for h in hops if h.to_agency.slug == SAFETYNET)

    # --- The supervisor approves ---------------------------------------------------------------
    supervisor = open_as("adachi-supervisor")
    supervisor.get_by_role("link", name="承認", exact=True).click()
    shoot(supervisor, "approvals")
    for hop in hops:
        supervisor.locator(f"tr[data-handoff='{hop.pk}'] button", has_text="承認して送付").click()
        expect(supervisor.locator(".messages")).to_contain_text("承認して送付しました")
    assert set(Handoff.objects.filter(sheet=sheet).values_list("status", flat=True)) == {
        Status.SENT
    }

    # --- The receiving intake: inbox, acknowledge, accept, no unshared section, complete -----
    intake = open_as("safetynet-intake")
    expect(intake.locator("main")).to_contain_text(f"引き継ぎ #{to_safetynet.pk}")
    shoot(intake, "home-intake", full_page=False)
    intake.get_by_role("link", name="受信", exact=True).click()
    shoot(intake, "inbox-intake", full_page=False)
    intake.get_by_role("link", name=f"引き継ぎ #{to_safetynet.pk}").click()
    content = intake.locator("section", has=intake.locator("#h-content"))
    expect(content).to_contain_text(CONSULTATION)
    expect(content).to_contain_text("42日")
    expect(intake.locator("main")).not_to_contain_text(HEALTH_NOTE)  # health: never shared
    expect(intake.locator("main")).not_to_contain_text("母は日中就労")  # home: unchecked at send
    expect(intake.locator("[data-section=health]")).to_have_count(0)
    _act(intake, "受領を確認する")
    expect(intake.locator("[data-testid=status]")).to_have_text("受領確認済み")
    _act(intake, "受け入れる", note="来週、保護者と面談予定")
    expect(intake.locator("[data-testid=status]")).to_have_text("受け入れ")
    shoot(intake, "handoff-receiver")
    intake.set_viewport_size({"width": 768, "height": 1024})
    shoot(intake, "handoff-receiver-768", full_page=False)
    intake.set_viewport_size({"width": 1280, "height": 900})
    _act(
        intake, "結果を記録して完了する", outcome="support_started", note="週1回の居場所利用を開始"
    )
    expect(intake.locator("[data-testid=status]")).to_have_text("完了")

    # --- The counselor sees the outcome --------------------------------------------------------
    counselor.goto(f"{live_server.url}/")
    expect(counselor.locator("main")).to_contain_text("完了")
    shoot(counselor, "home-counselor-after", full_page=False)
    counselor.set_viewport_size({"width": 768, "height": 1024})
    shoot(counselor, "home-counselor-after-768", center="[data-testid=home-sent]")
    counselor.set_viewport_size({"width": 1280, "height": 900})
    counselor.goto(f"{live_server.url}/handoffs/outbox/")
    counselor.get_by_role("link", name=f"引き継ぎ #{to_safetynet.pk}").click()
    expect(counselor.locator("[data-testid=outcome]")).to_have_text("支援を開始した")
    timeline = counselor.locator("[data-testid=timeline]")
    expect(timeline).to_contain_text("完了(結果を記録)")
    expect(timeline).not_to_contain_text("safetynet-intake")  # other agency: by name only
    # Every note is kept, in order (issue 10): the acceptance's note survives the outcome's.
    notes = counselor.locator("[data-testid=notes]")
    expect(notes).to_contain_text("来週、保護者と面談予定")
    expect(notes).to_contain_text("週1回の居場所利用を開始")
    shoot(counselor, "handoff-sender")

    # --- The supervisor filters the audit log to the sheet and exports it --------------------
    # What beat does every minute: verify the new events; the page shows the stored result.
    assert verify_new_events()
    supervisor.get_by_role("link", name="監査ログ").click()
    supervisor.fill("#id_sheet", str(sheet.pk))
    supervisor.get_by_role("button", name="絞り込む").click()
    table = supervisor.locator("[data-testid=audit-table]")
    expect(table).to_contain_text("完了(結果を記録)")
    expect(table).to_contain_text("同意を記録")
    expect(supervisor.locator("[data-testid=chain-status]")).to_contain_text("改ざんなし")
    shoot(supervisor, "audit-log", full_page=False)
    with supervisor.expect_download() as download:
        supervisor.locator("[data-testid=audit-export]").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "handoff.completed" in exported and "consent.recorded" in exported
    assert re.search(rf"^\d+,.*,{sheet.pk},", exported, re.M)
    assert "K.S" not in exported  # the trail holds ids, never the person
    export_event = AuditEvent.objects.get(action=AuditAction.AUDIT_EXPORTED)
    assert export_event.detail["filters"]["sheet_id"] == sheet.pk

    supervisor.get_by_role("link", name="提供記録").click()
    expect(supervisor.locator("main")).to_contain_text(f"K.S #{sheet.pk}")
    shoot(supervisor, "provision-records")
    supervisor.get_by_role("link", name="指標").click()
    expect(supervisor.locator("svg").first).to_be_visible()
    shoot(supervisor, "metrics")
    # The whole story ran under the strict Content-Security-Policy without a refusal: no
    # inline script, style or handler anywhere on the way (issue 13).
    assert not csp_violations, "\n".join(csp_violations)


def test_consent_check_blocks_a_send_with_the_reason(open_as, live_server, shoot) -> None:
    """GIVEN consent for one agency WHEN the counselor adds another THEN the live check and
    the submit both refuse it with the reason, and nothing is sent."""
    counselor = open_as("akashi-counselor")
    counselor.goto(f"{live_server.url}/sheets/new/")
    _fill_sheet(counselor)
    counselor.get_by_role("button", name="下書きとして保存").click()
    sheet = ReferralSheet.objects.order_by("-id").first()  # the demo network has others
    assert sheet is not None
    counselor.get_by_role("link", name="同意を記録").first.click()
    counselor.check("input[name=grantors][value=guardian]")
    _check_agency(counselor, _pk("akashi-free-space-torokko"))
    for section in ("basic", "consultation"):
        counselor.check(f"#sections-picker input[value={section}]")
    counselor.check("input[name=purposes][value=support]")
    counselor.get_by_role("button", name="記録する").click()

    counselor.goto(f"{live_server.url}/sheets/{sheet.pk}/send/")
    _check_agency(counselor, _pk("akashi-free-space-torokko"))
    _check_agency(counselor, _pk("akashi-kodomo-center"))
    counselor.check("#sections-picker input[value=health]")
    blocked = counselor.locator("[data-testid=coverage] tr.blocked")
    expect(blocked).to_have_count(2)
    reasons = counselor.locator("[data-testid=coverage-reason]")
    expect(reasons.first).to_contain_text("次の項目の提供には同意がありません: 心身の状態・特性")
    expect(reasons.nth(1)).to_contain_text("明石こどもセンター")
    shoot(counselor, "send-blocked", center="#sections-picker")
    counselor.get_by_role("button", name="承認を依頼する").click()
    expect(counselor.locator(".alert.error")).to_contain_text("同意の範囲外の送付先があるため")
    expect(counselor.locator("[data-testid=coverage-reason]").first).to_be_visible()
    assert not Handoff.objects.filter(sheet=sheet).exists()


def test_language_switch_turns_the_ui_english(open_as, live_server, shoot) -> None:
    page = open_as("kodomo-intake")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("link", name="機関名簿")).to_be_visible()
    page.select_option("#lang-select", "en")
    page.locator("[data-testid=set-language]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Directory")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("link", name="Directory").click()
    expect(page.locator("h1")).to_have_text("Directory")
    page.fill("#id_q", "トロッコ")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".agency-list")).to_contain_text("トロッコ")
    shoot(page, "directory-english", full_page=False)
