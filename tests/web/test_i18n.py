"""Japanese first, English complete: every string a person reads is in the English catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

PO = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"


def _entries() -> list[str]:
    return PO.read_text(encoding="utf-8").split("\n\n")[1:]


def test_english_catalog_is_complete_and_not_fuzzy() -> None:
    entries = _entries()
    assert len(entries) > 500
    empty = re.compile(r'^msgstr(\[\d\])? ""(?:\n(?!")|\Z)', re.M)  # "" not continued
    untranslated = [e for e in entries if empty.search(e.strip())]
    assert not untranslated, untranslated[:3]
    assert not [e for e in entries if "#, fuzzy" in e]


def test_catalog_covers_every_template_string() -> None:
    """A {% translate %} added without running makemessages would show Japanese in English."""
    roots = [Path(settings.BASE_DIR) / app / "templates" for app in ("relay", "notifications", "agencies", "conferences")]
    pattern = re.compile(r'{% (?:translate|trans) "((?:[^"\\]|\\.)*)"')
    missing = []
    with translation.override("en"):
        for root in roots:
            for template in root.rglob("*.html"):
                for text in pattern.findall(template.read_text(encoding="utf-8")):
                    if translation.gettext(text) == text:
                        missing.append((template.name, text))
    assert not missing, missing


@pytest.mark.django_db
def test_language_switch_shows_english(net, login) -> None:
    client = login(net.counselor)
    assert "ホーム" in client.get(reverse("relay:home")).content.decode()
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    body = client.get(reverse("relay:home")).content.decode()
    assert '<html lang="en">' in body
    assert ">Home<" in body and "Sign out" in body and "New sheet" in body
    assert "ホーム" not in body
