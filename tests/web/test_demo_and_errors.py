"""What a person meets around the screens: the site's own error pages in every mode, the
icon, and the demo's sign-in table that does not scroll away or lose its columns."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from relay.demo import display_width, users_table

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [True, False])
def test_another_agencys_handoff_is_the_sites_own_404_in_every_mode(
    net, login, sent, settings, debug
) -> None:
    """GIVEN the demo (DEBUG on) or production WHEN an outsider opens another agency's handoff
    THEN the answer is the site's Japanese 404 page, never Django's page listing URL patterns."""
    settings.DEBUG = debug
    _sheet, hop = sent
    response = login(net.welfare_intake).get(reverse("relay:handoff-detail", args=[hop.pk]))
    body = response.content.decode()
    assert response.status_code == 404
    assert "ページが見つかりません" in body
    assert "URLconf" not in body and "Page not found at" not in body


def test_a_view_that_refuses_answers_the_sites_403_with_debug_on(net, login, settings) -> None:
    settings.DEBUG = True
    response = login(net.counselor).get(reverse("relay:approvals"))  # supervisors only
    assert response.status_code == 403
    assert "403 Forbidden" not in response.content.decode()
    assert "<html" in response.content.decode()


def test_pages_name_their_icon_and_favicon_ico_leads_to_it(net, login) -> None:
    home = login(net.counselor).get(reverse("relay:home")).content.decode()
    assert 'rel="icon"' in home and "favicon.svg" in home
    response = login(net.counselor).get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("relay/favicon.svg")


def test_the_demo_users_table_keeps_its_columns_with_japanese_names() -> None:
    users = [
        ("admin", "-", "superuser"),
        ("adachi-counselor", "足立区福祉まるごと相談課", "相談員"),
        ("yokohama-intake", "横浜市教育委員会 教育支援センター", "受付担当"),
    ]
    lines = users_table(users).splitlines()
    rows = [line for line in lines[3:]]
    # The agency column starts at the same terminal column on every row.
    starts = [display_width(row[: row.index(agency)]) for row, (_u, agency, _r) in zip(rows, users, strict=True)]
    assert len(set(starts)) == 1
    assert "tsunagu-demo" in lines[0]


def test_load_demo_writes_the_users_table_beside_the_data(settings, tmp_path) -> None:
    settings.TSUNAGU = {**settings.TSUNAGU, "DEMO_ALLOWED": True}
    settings.VAR_DIR = tmp_path
    call_command("load_demo")
    table = (tmp_path / "demo-users.txt").read_text(encoding="utf-8")
    assert "adachi-counselor" in table and "tsunagu-demo" in table
