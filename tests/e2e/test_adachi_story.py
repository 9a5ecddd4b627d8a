"""The Adachi story (seeds/004, 足立区「つなぐシート」), in a real browser against a live server.

The ward desk recorded the consultation and the guardian's consent to the education support
center, which accepted the hop (set up through the services: the web story covers those
screens). In the browser: the family consents at the center to a free school and the center's
intake records it, with the scanned form; the center's counselor relays onward, the send
screen showing the center's own consent covers it; the ward's counselor sees the chain with
whose consent each hop went under, and the center's record read-only; the family withdraws
at the center and only the onward hop stops.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Page, expect

from agencies import twofactor
from consent.models import ConsentRecord, ConsentStatus
from relay.models import Handoff, Provision
from relay.states import Status
from tests.adachi import Adachi, build_adachi
from tests.e2e.conftest import DEMO_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _people(adachi: Adachi) -> None:
    """The story's staff sign in as demo staff do: the demo password, and an authenticator
    for whoever the agency's policy asks a second factor of."""
    for staff in (
        adachi.ward_counselor,
        adachi.center_intake,
        adachi.center_counselor,
    ):
        user = get_user_model().objects.get(pk=staff.user_id)
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        if twofactor.two_factor_required(user) and twofactor.confirmed_totp(user) is None:
            twofactor.totp_enrol_directly(user=user)


def _check_recipient(page: Page, agency_id: int) -> None:
    box = page.locator(f"#recipients-picker input[name=recipients][value='{agency_id}']")
    if not box.is_visible():
        page.locator("#recipients-picker details summary").first.click()
    box.check()


def test_consent_at_the_center_relay_onward_and_withdrawal(
    open_as, live_server, shoot, csp_violations, tmp_path: Path
) -> None:
    adachi = build_adachi()
    _people(adachi)
    sheet = adachi.sheet()
    adachi.ward_consent(sheet)
    first = adachi.first_hop(sheet)

    # --- The family consents at the center; its intake records it with the scan ------------
    intake = open_as("center-intake")
    intake.goto(f"{live_server.url}/sheets/{sheet.pk}/")
    intake.get_by_role("link", name="同意を記録する").first.click()
    expect(intake.locator("[data-testid=holder-consent-note]")).to_be_visible()
    expect(intake.locator("#sections-picker input[value=health]")).to_have_count(0)
    intake.check("input[name=grantors][value=person]")
    intake.check("input[name=grantors][value=guardian]")
    intake.select_option("#id_child_assent", "assented")
    _check_recipient(intake, adachi.free_school.pk)
    for section in ("basic", "attendance"):
        intake.check(f"#sections-picker input[value={section}]")
    intake.check("input[name=purposes][value=support]")
    scan = tmp_path / "consent.pdf"
    scan.write_bytes(PDF)
    intake.set_input_files("input[name=scanned_form]", str(scan))
    shoot(intake, "adachi-consent-at-center")
    intake.get_by_role("button", name="記録する").click()
    expect(intake.locator(".messages")).to_contain_text("同意を記録しました")
    record = ConsentRecord.objects.get(sheet=sheet, agency=adachi.center)
    assert sorted(record.sections) == ["attendance", "basic"] and record.scanned_form

    # --- The center's counselor relays onward under the center's consent -------------------
    counselor = open_as("center-counselor")
    counselor.goto(f"{live_server.url}/handoffs/{first.pk}/")
    counselor.get_by_role("link", name="次の機関へつなぐ").first.click()
    box = counselor.locator(f"input[name=recipients][value='{adachi.free_school.pk}']")
    if not box.is_checked():
        _check_recipient(counselor, adachi.free_school.pk)
    for section in ("basic", "attendance"):
        box = counselor.locator(f"#sections-picker input[value={section}]")
        if not box.is_checked():
            box.check()
    consultation = counselor.locator("#sections-picker input[value=consultation]")
    if consultation.is_checked():
        consultation.uncheck()
    expect(counselor.locator("[data-testid=coverage] tr.covered")).to_have_count(1)
    shoot(counselor, "adachi-relay-onward")
    counselor.get_by_role("button", name="送付する").click()
    expect(counselor.locator(".messages")).to_be_visible()
    onward = Handoff.objects.get(sheet=sheet, from_agency=adachi.center)
    assert onward.status == Status.SENT and onward.parent_id == first.pk
    provision = Provision.objects.get(handoff=onward)
    assert (provision.consent_id, provision.consent_agency_id) == (record.pk, adachi.center.pk)

    # --- The ward's counselor sees the chain, and the center's record read-only ------------
    ward = open_as("ward-counselor")
    chain = ward.locator(f"[data-chain-sheet='{sheet.pk}']")
    expect(chain.locator(f"[data-chain-hop='{onward.pk}']")).to_contain_text(
        f"{adachi.center.name}で記録した同意 #{record.pk}"
    )
    expect(chain.locator(f"[data-chain-hop='{first.pk}']")).to_contain_text(
        f"{adachi.ward.name}で記録した同意"
    )
    shoot(ward, "adachi-chain", center=f"[data-chain-sheet='{sheet.pk}']")
    ward.goto(f"{live_server.url}/sheets/{sheet.pk}/")
    row = ward.locator(f"tr[data-consent='{record.pk}']")
    expect(row.locator("[data-testid=consent-read-only]")).to_be_visible()
    expect(row.get_by_role("link", name="撤回を記録")).to_have_count(0)

    # --- The family withdraws at the center: only the onward hop stops ---------------------
    intake.goto(f"{live_server.url}/sheets/{sheet.pk}/")
    intake.locator(f"tr[data-consent='{record.pk}']").get_by_role("link", name="撤回を記録").click()
    intake.fill("#id_via", "本人が来所して")
    intake.get_by_role("button", name="撤回を記録する").click()
    expect(intake.locator(".messages")).to_contain_text("同意の撤回を記録しました")
    record.refresh_from_db()
    onward.refresh_from_db()
    first.refresh_from_db()
    assert record.status == ConsentStatus.WITHDRAWN
    assert (first.status, onward.status) == (Status.ACCEPTED, Status.WITHDRAWN)
    assert record.withdrawn_at is not None and record.withdrawn_at <= timezone.now()
    assert csp_violations == []
