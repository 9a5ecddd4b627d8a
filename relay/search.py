"""Japanese-aware matching for search: one folding rule, used for stored keys and queries.

A counselor types 「ｓ．ｋ」, "S.K" or "sk" for the same initials, 「ｱｶｼ」 or 「あかし」 for the
same school: NFKC makes full-width letters and digits half-width and half-width kana full-width,
katakana becomes hiragana, case is folded, and spaces and punctuation are dropped.
"""

from __future__ import annotations

import unicodedata

_KATAKANA_START, _KATAKANA_END = ord("ァ"), ord("ヶ")
_TO_HIRAGANA = ord("ぁ") - ord("ァ")


def fold(text: str) -> str:
    """The form two strings share when a person would call them the same."""
    normal = unicodedata.normalize("NFKC", text or "").casefold()
    out = []
    for ch in normal:
        code = ord(ch)
        if _KATAKANA_START <= code <= _KATAKANA_END:
            out.append(chr(code + _TO_HIRAGANA))
        elif ch.isalnum() or ch in "ー々〆":
            out.append(ch)
        # spaces, dots, middle dots and other punctuation are dropped
    return "".join(out)


def search_key(*parts: str) -> str:
    """The stored key of a record: its folded parts, separated so that a query does not match
    across two of them."""
    return "|".join(fold(part) for part in parts if part)
