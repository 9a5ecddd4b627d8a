"""Place names as the directory and the sheets write them: prefecture, city, ward.

「横浜市青葉区」 is a ward of the designated city 横浜市: for matching it is the city 横浜市.
Tokyo's special wards (「足立区」) are cities of their own. Pure functions, no query.
"""

from __future__ import annotations

import re

PREFECTURE_PREFIX = re.compile(r"^(東京都|北海道|京都府|大阪府|[^\s都道府県]{2,3}県)")
# A designated city's administrative ward: 「<city>市<ward>区」.
_DESIGNATED_WARD = re.compile(r"^(.+?市).+区$")


def split_prefecture(written: str) -> tuple[str, str]:
    """(prefecture, the rest) of a place as written; the prefecture is "" if not named."""
    written = written.strip()
    prefix = PREFECTURE_PREFIX.match(written)
    if prefix is None:
        return "", written
    return prefix.group(1), written[prefix.end() :]


def city_of(municipality: str) -> str:
    """The municipality a place belongs to: 「横浜市青葉区」 -> 「横浜市」, 「足立区」 stays."""
    _prefecture, rest = split_prefecture(municipality)
    ward = _DESIGNATED_WARD.match(rest)
    return ward.group(1) if ward else rest


def same_city(a: str, b: str) -> bool:
    """「横浜市青葉区」, 「横浜市」 and 「神奈川県横浜市港北区」 are the same city."""
    city_a, city_b = city_of(a), city_of(b)
    return bool(city_a and city_b and city_a == city_b)
