"""What a person meets around the screens: the site's own error pages in every mode, the
icon, and the demo's sign-in table that does not scroll away or lose its columns."""

from __future__ import annotations

import base64
import hmac
import struct
import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
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
        ("admin", "-", "superuser", "JBSWY3DPEHPK3PXP"),
        ("adachi-counselor", "足立区福祉まるごと相談課", "相談員", ""),
        ("yokohama-intake", "横浜市教育委員会 教育支援センター", "受付担当", ""),
        ("yokohama-supervisor", "横浜市教育委員会 教育支援センター", "管理職", "GEZDGNBVGY3TQOJQ"),
    ]
    lines = users_table(users).splitlines()
    rows = [line for line in lines[4:]]
    # The agency column starts at the same terminal column on every row.
    starts = [display_width(row[: row.index(agency)]) for row, (_u, agency, _r, _s) in zip(rows, users, strict=True)]
    assert len(set(starts)) == 1
    assert "tsunagu-demo" in lines[0]


def test_load_demo_writes_the_users_table_beside_the_data(settings, tmp_path) -> None:
    settings.TSUNAGU = {**settings.TSUNAGU, "DEMO_ALLOWED": True}
    settings.VAR_DIR = tmp_path
    call_command("load_demo")
    table = (tmp_path / "demo-users.txt").read_text(encoding="utf-8")
    assert "adachi-counselor" in table and "tsunagu-demo" in table


def test_demo_supervisors_sign_in_with_the_printed_secret_and_demo_totp(settings, tmp_path, capsys):
    """GIVEN the demo WHEN a supervisor signs in THEN the password alone is not enough, and
    the code from `manage.py demo_totp` (or the printed secret) lets them in."""
    settings.TSUNAGU = {**settings.TSUNAGU, "DEMO_ALLOWED": True}
    settings.VAR_DIR = tmp_path
    call_command("load_demo")
    table = (tmp_path / "demo-users.txt").read_text(encoding="utf-8")
    row = next(line for line in table.splitlines() if line.startswith("adachi-supervisor"))
    secret = row.split()[2]
    assert len(secret) >= 16 and secret.isalnum()
    assert next(line for line in table.splitlines() if line.startswith("adachi-counselor ")).split()[2] == "-"
    capsys.readouterr()
    call_command("demo_totp", "adachi-supervisor")
    code = capsys.readouterr().out.strip()
    assert code.isdigit() and len(code) == 6
    client = Client()
    client.post(reverse("login"), {"username": "adachi-supervisor", "password": "tsunagu-demo"})
    assert client.get(reverse("relay:home")).status_code == 302  # not signed in yet
    response = client.post(reverse("login-verify"), {"code": code})
    assert response.status_code == 302
    assert client.get(reverse("relay:home")).status_code == 200
    # The code is the one the printed secret gives (what an authenticator app shows).
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int(time.time()) // 30)
    digest = hmac.new(key, counter, "sha1").digest()
    offset = digest[-1] & 0x0F
    expected = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    assert f"{expected:06d}" == code or time.time() % 30 < 2  # a step boundary may fall between


def test_demo_totp_is_refused_outside_demo_mode(settings) -> None:
    settings.TSUNAGU = {**settings.TSUNAGU, "DEMO_ALLOWED": False}
    with pytest.raises(CommandError, match="demo mode"):
        call_command("demo_totp", "adachi-supervisor")
