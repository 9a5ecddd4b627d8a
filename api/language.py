"""The language of an API answer: Japanese by default, English when the request asks for it.

A module of its own (below api.problems) so that the authentication and principal modules can
word their messages without importing the problem handler, which imports them."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.functional import lazy


def current_language() -> str:
    """ "en" when the request asked for English, else "ja" (the default of the project)."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    return "en" if language.lower().startswith("en") else "ja"


def pick(ja: str, en: str) -> str:
    return en if current_language() == "en" else ja


# A message in both languages, resolved when it is turned into text (no gettext catalog yet).
bilingual = lazy(pick, str)
