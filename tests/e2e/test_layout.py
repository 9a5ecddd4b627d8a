"""The main screens at the widths people use them (a ward desk's tablet at 768 px, a laptop at
1024, a desktop at 1280): no sideways scrolling, the send page's coverage verdicts each on one
line, and no serious or critical accessibility violation found by axe-core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page

from agencies.models import Agency
from relay.models import Handoff, ReferralSheet
from relay.states import Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
WARD = "adachi-fukushi-marugoto-soudan"
WIDTHS = (768, 1024, 1280)
# The demo intake user of each receiving agency.
INTAKE = {
    "adachi-safety-net-adachi": "safetynet-intake",
    "yokohama-education-support-center": "yokohama-intake",
    "akashi-kodomo-center": "kodomo-intake",
    "akashi-free-space-torokko": "torokko-intake",
    "shinjuku-hikikomori-consultation": "shinjuku-intake",
    "shinagawa-kodomo-wakamono-free-space": "freespace-intake",
    "tokyo-developmental-disabilities-support-center": "tokyo-dd-intake",
}


def _screens() -> dict[str, list[str]]:
    """Who opens which path: the ward desk's counselor and supervisor, and a receiver."""
    ward = Agency.objects.get(slug=WARD)
    sheet = ReferralSheet.objects.filter(owner_agency=ward).order_by("id").first()
    out = Handoff.objects.filter(from_agency=ward).exclude(status=Status.DRAFT).order_by("id")
    hop = out.first()
    received = Handoff.objects.filter(status=Status.SENT).exclude(from_agency=ward).first()
    assert sheet and hop
    screens = {
        "adachi-counselor": [
            "/",
            "/sheets/",
            f"/sheets/{sheet.pk}/",
            f"/sheets/{sheet.pk}/edit/",
            "/sheets/new/",
            f"/sheets/{sheet.pk}/consent/",
            f"/sheets/{sheet.pk}/send/",
            f"/sheets/{sheet.pk}/print/",
            "/handoffs/outbox/",
            f"/handoffs/{hop.pk}/",
            "/notifications/",
            "/directory/",
        ],
        "adachi-supervisor": [
            "/",
            "/supervisor/approvals/",
            "/supervisor/audit/",
            "/supervisor/metrics/",
            "/supervisor/provision-records/",
        ],
    }
    intake = INTAKE
    # The receiving side of a hop from another agency and of the ward's own hop: each with its
    # home (half-width tables), its inbox and the hop's page.
    for hop_in in (received, hop):
        user = intake.get(hop_in.to_agency.slug) if hop_in is not None else None
        if user and hop_in is not None:
            paths = screens.setdefault(user, ["/", "/handoffs/inbox/"])
            paths.append(f"/handoffs/{hop_in.pk}/")
    return screens


# A table wider than its scrolling wrapper hides columns behind a sideways scroll of its own.
CUT_TABLES = (
    "() => [...document.querySelectorAll('.table-wrap')]"
    ".filter(w => w.scrollWidth > w.clientWidth + 1)"
    ".map(w => (w.closest('section,article,div[id]') || w).id || w.className)"
)


def _overflow(page: Page) -> dict[str, int]:
    return page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )


def _show_coverage(page: Page) -> None:
    """On the send page: pick three recipients and six sections, so the grid is as wide as a
    counselor's usual choice makes it."""
    picker = page.locator("#recipients-picker input[name=recipients]")
    if not picker.first.is_visible():
        page.locator("#recipients-picker details summary").first.click()
    # Recipients the consent names come ticked: start from none, so the grid has three rows.
    for box in page.locator("#recipients-picker input[name=recipients]:checked").all():
        box.uncheck()
    for index in range(3):
        picker.nth(index).check()
    for section in ("basic", "consultation", "attendance", "home", "health", "wishes"):
        page.locator(f"#sections-picker input[value={section}]").check()
    # The grid is redrawn after each click: wait for the last answer (3 rows x 6 sections).
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request')"
        " && document.querySelectorAll('[data-testid=coverage] th.section').length === 6"
        " && document.querySelectorAll('[data-testid=coverage] tr[data-agency]:not(.program-row)').length === 3"
    )


def test_no_screen_scrolls_sideways_and_verdicts_stay_on_one_line(open_as, live_server) -> None:
    problems = []
    for username, paths in _screens().items():
        page = open_as(username)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for path in paths:
                page.goto(f"{live_server.url}{path}")
                assert page.url.startswith(live_server.url), path
                if path.endswith("/send/"):
                    _show_coverage(page)
                    verdicts = page.locator("[data-testid=coverage] .verdict").count()
                    assert verdicts >= 3, f"{path}: no coverage verdicts drawn"
                    tall = page.evaluate(
                        "() => [...document.querySelectorAll('[data-testid=coverage] .verdict')]"
                        ".filter(v => v.getClientRects().length !== 1"
                        " || v.getBoundingClientRect().height >"
                        " 1.8 * parseFloat(getComputedStyle(v).lineHeight || 20)).length"
                    )
                    if tall:
                        problems.append(f"{width}px {path}: {tall} verdict(s) broken over lines")
                size = _overflow(page)
                if size["scroll"] > size["client"]:
                    problems.append(f"{width}px {path} ({username}): {size}")
                cut = page.evaluate(CUT_TABLES)
                if cut:
                    problems.append(f"{width}px {path} ({username}): tables cut off {cut}")
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is installed by `make install` (npm ci)")
def test_axe_finds_no_serious_or_critical_violation(browser, live_server, demo) -> None:
    """axe-core, injected into each main screen (the page's CSP is bypassed for the injection
    only), reports no violation of impact serious or critical."""
    from tests.e2e.conftest import sign_in

    source = AXE.read_text(encoding="utf-8")
    found = []
    for username, paths in _screens().items():
        context = browser.new_context(locale="ja-JP", bypass_csp=True)
        page = context.new_page()
        sign_in(page, live_server.url, username)
        for path in ["/login/", *paths] if username == "adachi-counselor" else paths:
            page.goto(f"{live_server.url}{path}")
            page.evaluate(source)
            result = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
                ".map(v => ({id: v.id, impact: v.impact,"
                " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
            )
            if result:
                found.append(f"{path} ({username}): {json.dumps(result, ensure_ascii=False)}")
        context.close()
    assert not found, "\n".join(found)


def test_send_page_at_768_px_reads_with_every_section_chosen(open_as, live_server) -> None:
    """GIVEN a ward sheet with consent naming recipients WHEN the counselor opens its send page
    on a 768 px tablet and chooses every section THEN the consented recipients are ticked, the
    grid fits without sideways scrolling, each verdict is on one line and no section heading
    runs past four lines (a heading broken one character per line is unreadable)."""
    from relay.views.queries import consented_recipients, open_hops_to

    ward = Agency.objects.get(slug=WARD)
    # A demo sheet whose consent names an agency it has no hop under way to.
    sheet_id = next(
        sheet.pk
        for sheet in ReferralSheet.objects.filter(owner_agency=ward).order_by("id")
        if consented_recipients(sheet_id=sheet.pk, sender=ward)
        - set(open_hops_to(sheet_id=sheet.pk, from_agency=ward))
    )
    page = open_as("adachi-counselor")
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(f"{live_server.url}/sheets/{sheet_id}/send/")
    ticked = page.locator("[data-testid=consented] input[name=recipients]:checked")
    assert ticked.count() >= 1
    for box in page.locator("#sections-picker input[name=sections]").all():
        box.check()
    sections = page.locator("#sections-picker input[name=sections]").count()
    page.wait_for_function(
        "n => !document.querySelector('.htmx-request')"
        " && document.querySelectorAll('[data-testid=coverage] th.section').length === n",
        arg=sections,
    )
    size = _overflow(page)
    assert size["scroll"] <= size["client"], size
    assert not page.evaluate(CUT_TABLES)
    lines = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=coverage] th.section .label')]"
        ".map(label => label.getClientRects().length)"
    )
    assert max(lines) <= 4, lines
    verdicts = page.locator("[data-testid=coverage] .verdict")
    assert verdicts.count() == ticked.count()
    assert all(v.evaluate("el => el.getClientRects().length") == 1 for v in verdicts.all())


def test_home_sent_table_uses_the_full_width_and_keeps_its_deadline_column(
    open_as, live_server
) -> None:
    """The counselor's home: the sent-handoffs table spans the page (not half of it) at 1280
    px, and at 768 px its deadline column is inside the card, not cut off."""
    page = open_as("adachi-counselor")
    for width in (1280, 768):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/")
        card = page.locator("[data-testid=home-sent]").bounding_box()
        main = page.locator("main").bounding_box()
        assert card and main and card["width"] >= 0.9 * main["width"] - 40, (width, card, main)
        deadline = page.locator("[data-testid=home-sent] thead th").last.bounding_box()
        assert deadline and deadline["x"] + deadline["width"] <= card["x"] + card["width"] + 1
        assert not page.evaluate(CUT_TABLES), width


def test_home_received_table_keeps_its_last_column_with_a_long_sender_name(
    open_as, live_server
) -> None:
    """A receiver's home puts new hops in a half-width card: a sender with a long official
    name (a 社会福祉協議会's full name runs past forty characters) must not push the deadline
    column behind a sideways scroll, at a desktop's 1280 px or a laptop's 1024 px."""
    hop = (
        Handoff.objects.filter(status=Status.SENT, to_agency__slug__in=INTAKE)
        .select_related("from_agency", "to_agency")
        .first()
    )
    assert hop is not None, "the demo has a new hop for an agency with an intake user"
    Agency.objects.filter(pk=hop.from_agency_id).update(
        name="社会福祉法人東京都足立区社会福祉協議会 地域福祉推進課 生活支援コーディネーター担当窓口"
    )
    page = open_as(INTAKE[hop.to_agency.slug])
    for width in (1280, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/")
        assert page.locator("#h-inbox").is_visible()
        assert not page.evaluate(CUT_TABLES), width
        size = _overflow(page)
        assert size["scroll"] <= size["client"], (width, size)
