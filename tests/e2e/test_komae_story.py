"""The Komae story of issue 17, in a real browser (Debian's Chromium) against a live server.

A family member, on a phone, asks Komae's routing desk for help through its public form (no
sign-in) and sees a thank-you page with nothing of what they wrote. A desk counselor finds the
request in the triage inbox, turns it into a sheet after talking with them, and records the
person's consent naming the desk and the kinds it may choose among (no named recipient). The
desk's supervisor routes it to the agency the desk chose without new consent; a kind the
person did not agree to is refused. The routed agency reads only the routing sections.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from agencies.models import Agency
from consent.models import ConsentRecord
from relay.models import Handoff, IntakeRecord, IntakeStatus, ReferralSheet
from relay.states import Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESK = "komae-fukushi-tsunagari-sheet"
YOUTH = "komae-youth-consultation"  # hikikomori support, ages 15-39, in 狛江市
GUIDANCE = "kunitachi-kunisapo"  # child guidance: a kind the person did not agree to
SITUATION = "24さいの 弟が 半年ほど 部屋から 出てきません。家族も どうしたら よいか わかりません。"
CONTACT = "090-0000-5678"
HOME_NOTE = "母と弟の二人暮らし"


def _pk(slug: str) -> int:
    return Agency.objects.values_list("pk", flat=True).get(slug=slug)


def _tick_recipient(page: Page, agency_id: int) -> None:
    box = page.locator(f"input[name=recipients][value='{agency_id}']").first
    if not box.is_visible():
        page.locator("details", has=box).last.locator("summary").first.click()
    box.check()


def test_public_form_to_desk_to_routed_agency(
    browser, live_server, demo, open_as, shoot, csp_violations
) -> None:
    # --- A family member, on a phone, with no account -----------------------------------------
    phone = browser.new_context(locale="ja-JP", viewport={"width": 375, "height": 812})
    public = phone.new_page()
    public.goto(f"{live_server.url}/soudan/{DESK}/")
    expect(public.locator("h1")).to_contain_text("こまっていること")
    # The layout fits the phone: nothing wider than the screen.
    assert public.evaluate("document.documentElement.scrollWidth") <= 375
    public.check("input[name=asker][value=family]")
    public.fill("#id_situation", SITUATION)
    public.check("input[name=contact_method][value=phone]")
    public.fill("#id_contact_detail", CONTACT)
    public.check("#id_consent_to_contact")
    expect(public.locator("#id_website")).not_to_be_in_viewport()  # the honeypot
    shoot(public, "public-intake-375")
    public.get_by_role("button", name="おくる").click()
    expect(public.locator("[data-testid=public-intake-thanks]")).to_be_visible()
    body = public.locator("body")
    expect(body).not_to_contain_text(CONTACT)
    expect(body).not_to_contain_text("部屋から")
    assert public.evaluate("document.documentElement.scrollWidth") <= 375
    shoot(public, "public-intake-thanks-375")
    phone.close()
    intake = IntakeRecord.objects.order_by("-id").first()
    assert intake is not None and intake.situation == SITUATION
    assert intake.desk.slug == DESK and intake.status == IntakeStatus.NEW

    # --- The desk counselor: triage inbox, the request, a sheet -------------------------------
    counselor = open_as("komae-desk-counselor")
    counselor.locator("[data-testid=nav-desk]").click()
    row = counselor.locator(f"[data-testid=intake-{intake.pk}]")
    expect(row).to_be_visible()
    expect(counselor.locator("main")).not_to_contain_text(CONTACT)  # the list shows no text
    shoot(counselor, "desk-triage")
    row.get_by_role("link").first.click()
    expect(counselor.locator("[data-testid=intake-detail]")).to_contain_text(CONTACT)
    counselor.locator("[data-testid=intake-make-sheet]").click()
    expect(counselor.locator("[data-testid=from-intake]")).to_be_visible()
    expect(counselor.locator("#id_consultation")).to_have_value(SITUATION)
    counselor.fill("#id_subject_initials", "H.K")
    counselor.fill("#id_birth_year", str(timezone.localdate().year - 24))
    counselor.check("input[name=categories][value=hikikomori]")
    counselor.fill("#id_home_situation", HOME_NOTE)
    counselor.get_by_role("button", name="下書きとして保存").click()
    expect(counselor.locator(".messages")).to_contain_text("を保存しました")
    sheet = ReferralSheet.objects.order_by("-id").first()
    assert sheet is not None and sheet.owner_agency.slug == DESK
    intake.refresh_from_db()
    assert intake.sheet_id == sheet.pk and intake.status == IntakeStatus.SHEET_CREATED

    # --- ... records consent naming the desk and the kinds it may choose among ----------------
    counselor.get_by_role("link", name="同意を記録").first.click()
    counselor.check("input[name=grantors][value=person]")
    counselor.select_option("#id_routing_desk", str(_pk(DESK)))
    counselor.check("input[name=routing_kinds][value=hikikomori_support]")
    counselor.check("input[name=routing_kinds][value=other]")
    for section in ("basic", "consultation"):
        counselor.check(f"#sections-picker input[value={section}]")
    counselor.check("input[name=purposes][value=support]")
    counselor.get_by_role("button", name="記録する").click()
    expect(counselor.locator(".messages")).to_contain_text("同意を記録しました")
    record = ConsentRecord.objects.get(sheet=sheet)
    assert record.routing_desk_id == _pk(DESK)
    assert record.routing_kinds == ["hikikomori_support", "other"]
    assert not record.recipient_agencies.exists()

    # --- The desk's supervisor routes: a kind not agreed is refused; the chosen one goes ------
    supervisor = open_as("komae-desk-supervisor")
    supervisor.goto(f"{live_server.url}/sheets/{sheet.pk}/send/")
    _tick_recipient(supervisor, _pk(GUIDANCE))
    for section in ("basic", "consultation"):
        supervisor.check(f"#sections-picker input[value={section}]")
    supervisor.get_by_role("button", name="送付する").last.click()
    expect(supervisor.locator("main")).to_contain_text("種別")
    assert not Handoff.objects.filter(sheet=sheet).exists()

    supervisor.goto(f"{live_server.url}/sheets/{sheet.pk}/send/")
    _tick_recipient(supervisor, _pk(YOUTH))
    for section in ("basic", "consultation"):
        supervisor.check(f"#sections-picker input[value={section}]")
    expect(supervisor.locator("[data-testid=coverage] tr.covered")).to_have_count(1)
    supervisor.get_by_role("button", name="送付する").last.click()
    expect(supervisor.locator(".messages")).to_contain_text("を送付しました")
    hop = Handoff.objects.get(sheet=sheet)
    assert hop.to_agency.slug == YOUTH and hop.status == Status.SENT
    assert hop.consent_id == record.pk

    # --- The desk's triage: the CSW's hop, routed to a suggested agency ------------------------
    from_csw = Handoff.objects.get(to_agency__slug=DESK, from_agency__slug="komae-flat-nanbu")
    supervisor.goto(f"{live_server.url}/desk/")
    item = supervisor.locator(f"[data-testid=desk-hop-{from_csw.pk}]")
    expect(item.locator(f"[data-testid=suggestion-{YOUTH}]")).to_be_visible()
    expect(item.locator(f"[data-testid=suggestion-{GUIDANCE}]")).to_have_count(0)
    item.locator(f"[data-testid=route-{YOUTH}]").click()
    expect(supervisor.locator(".messages")).to_contain_text("へつなぎました")
    routed = Handoff.objects.get(parent=from_csw)
    assert routed.to_agency.slug == YOUTH and routed.consent_id == from_csw.consent_id
    # The first sender sees where it went.
    csw = open_as("komae-csw-supervisor")
    expect(csw.locator("main")).to_contain_text("狛江市 若者相談窓口")

    # --- The routed agency reads only the routing sections ------------------------------------
    youth = open_as("komae-youth-intake")
    youth.goto(f"{live_server.url}/handoffs/{hop.pk}/")
    main = youth.locator("main")
    expect(main).to_contain_text("H.K")
    expect(main).to_contain_text("部屋から")
    expect(main).not_to_contain_text(HOME_NOTE)
    expect(youth.locator("[data-section=home]")).to_have_count(0)
    # It is no routing desk: the desk's screens are not there for it.
    response = youth.goto(f"{live_server.url}/desk/")
    assert response is not None and response.status == 404

    assert not csp_violations, csp_violations
