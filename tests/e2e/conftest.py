"""End-to-end fixtures: Debian's Chromium driven by Playwright against pytest-django's
live_server, with the demo network loaded in the test database.

Never downloads a browser: /usr/bin/chromium (Debian's package) or the tests are skipped.
They run in the ci test profile (`make test-all`, `.ci/run`); a developer's `make test` (the
dev profile, tests/profile.py) skips them, saying so.
"""

from __future__ import annotations

import base64
import hmac
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from agencies import twofactor
from tests.profile import ENV, PROFILE

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
DEMO_PASSWORD = "tsunagu-demo"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Called with every collected item: only this directory's tests drive the browser.
    here = Path(__file__).resolve().parent
    if not PROFILE.browser:
        reason = f"browser tests run in the ci profile ({ENV}=ci, make test-all)"
    elif not CHROMIUM.exists():
        reason = "Debian's Chromium is not installed at /usr/bin/chromium"
    else:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if here in item.path.resolve().parents:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _sync_orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright's sync API keeps an event loop in this thread while the browser is open, so
    Django would refuse the (synchronous, safe) ORM calls the tests make between browser
    steps. Only for e2e tests, and undone before other tests start subprocesses."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser() -> Iterator[object]:
    """One Chromium per test: Playwright's event loop is gone again before pytest-django
    flushes the live server's database, which Django refuses to do inside a running loop."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def demo(transactional_db: None, settings) -> None:
    """The demo network (68 real agencies, demo staff) in the live server's database."""
    settings.TSUNAGU = {**settings.TSUNAGU, "DEMO_ALLOWED": True}
    call_command("load_demo", verbosity=0)


def totp_from_secret(secret: str, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits) from the base32 secret, as an authenticator app does:
    the tests compute codes from what the screen or the demo table shows."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int((time.time() if at is None else at) // 30))
    digest = hmac.new(key, counter, "sha1").digest()
    offset = digest[-1] & 0x0F
    value = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def next_code(username: str) -> str:
    """The code of the demo user's authenticator, never one already used (django-otp refuses
    a replay within its 30 s step: a second sign-in in the same step takes the next one)."""
    device = twofactor.confirmed_totp(get_user_model().objects.get(username=username))
    assert device is not None, f"{username} has no authenticator"
    at = max(time.time(), (device.last_t + 1) * device.step + device.t0)
    return totp_from_secret(twofactor.totp_secret(device), at=at)


def sign_in(page, base_url: str, username: str) -> None:
    """The real sign-in: password, then the code step for whoever has an authenticator."""
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form button[type=submit].btn")
    page.wait_for_load_state()
    if "/login/verify/" in page.url:
        page.fill("#id_code", next_code(username))
        page.click("form[data-testid=second-factor-form] button[type=submit]")
    page.wait_for_url(f"{base_url}/**")
    assert "/login/" not in page.url, f"{username} was not signed in"


@pytest.fixture
def csp_violations() -> list[str]:
    """Content-Security-Policy violations the browser reported on the pages open_as opened
    (Chromium logs each refused script, style, frame or form target to the console)."""
    return []


@pytest.fixture
def open_as(browser, live_server, demo, csp_violations):
    """A function that opens a fresh, signed-in Japanese browser page for a demo user."""
    contexts = []

    def open_page(username: str, *, locale: str = "ja-JP"):
        context = browser.new_context(
            locale=locale, viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: csp_violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None,
        )
        sign_in(page, live_server.url, username)
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def shoot():
    """Save a full-page screenshot under var/screenshots/ (the best are copied to docs/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str, *, full_page: bool = True, center: str = "") -> Path:
        """`center`: a selector to scroll to the middle of the window (then the window only)."""
        page.evaluate("document.activeElement && document.activeElement.blur()")
        if center:
            page.locator(center).first.evaluate("el => el.scrollIntoView({block: 'center'})")
            full_page = False
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save
