"""Place names as the directory and the sheets write them: prefecture, city, ward.

「横浜市青葉区」 is a ward of the designated city 横浜市: for matching it is the city 横浜市.
Tokyo's special wards (「足立区」) are cities of their own. Pure functions, no query: where the
directory has to say which prefecture a place is in, the caller passes the question in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import IntEnum

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


TOKYO = "東京都"


class Nearness(IntEnum):
    """How near an agency is to a person, nearest first (the order suggestions are ranked in)."""

    CITY = 0  # the person's municipality; a designated city's wards are the city
    TOKYO_WARDS = 1  # for a person in one of Tokyo's 23 special wards: another of them
    PREFECTURE = 2  # the person's prefecture (its prefecture-wide agencies included)
    ELSEWHERE = 3


def read_place(
    written: str,
    *,
    near_prefecture: str,
    near_municipality: str,
    prefecture_of: Callable[[str], str],
) -> tuple[str, str]:
    """(prefecture, municipality) of a person whose municipality is `written` as a sheet gives
    it. Nothing written: the place of the agency near them (`near_*`, the sender or the desk).
    A prefecture written in front of it stands; else the near agency's, if it is the same city;
    else `prefecture_of(municipality)` (the directory's answer, "" if it does not know), else
    the near agency's."""
    written = written.strip()
    if not written:
        return near_prefecture, near_municipality
    prefecture, municipality = split_prefecture(written)
    if not prefecture:
        if same_city(municipality, near_municipality):
            prefecture = near_prefecture
        else:
            prefecture = prefecture_of(municipality) or near_prefecture
    return prefecture, municipality or written


def nearness(
    *, prefecture: str, municipality: str, agency_prefecture: str, agency_municipality: str
) -> Nearness:
    """How near an agency (`agency_*`) is to a person living in `municipality`, `prefecture`:
    the same city (「横浜市港北区」's agency for a person in 「横浜市青葉区」; never an agency whose
    municipality is its prefecture, which serves the whole prefecture), then, for a Tokyo ward,
    the other wards, then the same prefecture, then anywhere else."""
    prefecture_wide = bool(agency_prefecture) and agency_municipality == agency_prefecture
    if not prefecture_wide and same_city(municipality, agency_municipality):
        return Nearness.CITY
    if not prefecture or agency_prefecture != prefecture:
        return Nearness.ELSEWHERE
    if prefecture == TOKYO and municipality.endswith("区") and agency_municipality.endswith("区"):
        return Nearness.TOKYO_WARDS
    return Nearness.PREFECTURE
