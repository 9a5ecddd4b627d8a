"""Two-step sign-in in a real browser (issue 13): a supervisor without an authenticator is
made to enrol before any page (the code computed here from the secret the screen shows, as
an app would), keeps the recovery codes, signs out, and signs in again with a fresh code; a
wrong code is refused. The CSP holds on these screens too."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from agencies import twofactor
from audit.context import Actor
from audit.models import AuditAction, AuditEvent
from tests.e2e.conftest import DEMO_PASSWORD, totp_from_secret

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_supervisor_enrols_then_signs_in_with_a_code(browser, live_server, demo, shoot) -> None:
    user = get_user_model().objects.get(username="yokohama-supervisor")
    twofactor.second_factor_reset(user=user, actor=Actor.system("e2e"), reason="new phone")
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "yokohama-supervisor")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form button[type=submit].btn")
    page.wait_for_url(f"{live_server.url}/login/enrol/")
    # Nothing else opens before the second factor is set up.
    page.goto(f"{live_server.url}/sheets/")
    assert "/login/" in page.url
    page.goto(f"{live_server.url}/login/enrol/")
    expect(page.locator("[data-testid=totp-qr] svg")).to_be_visible()
    secret = page.locator("[data-testid=totp-secret]").inner_text().strip()
    shoot(page, "two-factor-enrol")
    page.fill("#id_code", "000000")
    page.click("form[data-testid=enrol-form] button[type=submit]")
    expect(page.locator(".errorlist")).to_contain_text("確認コードが正しくありません")
    # django-otp makes a device wait after a failure (1 s after the first, doubling): as a
    # person retyping would, the right code comes after that delay.
    page.wait_for_timeout(1500)
    page.fill("#id_code", totp_from_secret(secret))
    page.click("form[data-testid=enrol-form] button[type=submit]")
    page.wait_for_url(f"{live_server.url}/account/recovery-codes/")
    codes = page.locator("[data-testid=recovery-codes] li")
    assert codes.count() == twofactor.RECOVERY_CODE_COUNT
    page.get_by_role("link", name="控えたので次へ進む").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".who")).to_contain_text("yokohama-supervisor")

    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_url(f"{live_server.url}/login/")
    page.fill("#id_username", "yokohama-supervisor")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form button[type=submit].btn")
    page.wait_for_url(f"{live_server.url}/login/verify/")
    shoot(page, "two-factor-verify")
    # The enrolment's code may not be used again: take the next step's (accepted as drift).
    page.fill("#id_code", totp_from_secret(secret, at=time.time() + 30))
    page.click("form[data-testid=second-factor-form] button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/account/")
    expect(page.locator("[data-testid=two-factor-status]")).to_contain_text("設定済み")
    context.close()

    actions = list(
        AuditEvent.objects.filter(actor_label="yokohama-supervisor")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert AuditAction.SECOND_FACTOR_ENROLLED in actions
    assert actions.count(AuditAction.LOGIN) == 2
    assert AuditEvent.objects.filter(action=AuditAction.SECOND_FACTOR_FAILED).exists()
    assert not violations, violations
