"""Nearest first (agencies/places.py): the one rule both the send screen's and the routing
desk's suggestions rank by, and how a person's place is read from what a sheet writes."""

from __future__ import annotations

import pytest

from agencies.places import Nearness, nearness, read_place


@pytest.mark.parametrize(
    ("agency_prefecture", "agency_municipality", "expected"),
    [
        ("神奈川県", "横浜市港北区", Nearness.CITY),  # another ward of the same designated city
        ("神奈川県", "横浜市", Nearness.CITY),  # the designated city itself
        ("神奈川県", "神奈川県横浜市青葉区", Nearness.CITY),  # written with its prefecture
        ("神奈川県", "川崎市", Nearness.PREFECTURE),  # another city of the prefecture
        ("神奈川県", "神奈川県", Nearness.PREFECTURE),  # prefecture-wide: not the person's city
        ("東京都", "町田市", Nearness.ELSEWHERE),  # another prefecture, however close
        ("", "横浜市", Nearness.CITY),  # the city counts even where no prefecture is recorded
        ("", "川崎市", Nearness.ELSEWHERE),  # without a prefecture, not the person's prefecture
    ],
)
def test_an_agency_is_as_near_as_the_persons_city_then_prefecture(
    agency_prefecture: str, agency_municipality: str, expected: Nearness
) -> None:
    """GIVEN a person in 横浜市青葉区 (a ward of a designated city) WHEN an agency is ranked
    THEN the city's agencies (any ward) come first, then the prefecture's, then the rest."""
    assert (
        nearness(
            prefecture="神奈川県",
            municipality="横浜市青葉区",
            agency_prefecture=agency_prefecture,
            agency_municipality=agency_municipality,
        )
        is expected
    )


def test_for_a_tokyo_ward_the_other_wards_come_before_the_tama_cities() -> None:
    def near(prefecture: str, municipality: str) -> Nearness:
        return nearness(
            prefecture="東京都",
            municipality="足立区",
            agency_prefecture=prefecture,
            agency_municipality=municipality,
        )

    assert near("東京都", "東京都足立区") is Nearness.CITY
    assert near("東京都", "葛飾区") is Nearness.TOKYO_WARDS
    assert near("東京都", "八王子市") is Nearness.PREFECTURE
    assert near("埼玉県", "川口市") is Nearness.ELSEWHERE
    assert sorted(Nearness, reverse=True)[-1] is Nearness.CITY


def test_a_persons_place_is_what_the_sheet_writes_else_the_agency_near_them() -> None:
    """The prefecture written in front stands; an unprefixed city is the near agency's if it
    is the same city, else the directory's answer; nothing written is the near agency's."""
    asked: list[str] = []

    def directory(municipality: str) -> str:
        asked.append(municipality)
        return {"横浜市青葉区": "神奈川県"}.get(municipality, "")

    def read(written: str) -> tuple[str, str]:
        return read_place(
            written, near_prefecture="東京都", near_municipality="狛江市", prefecture_of=directory
        )

    assert read("大阪府大阪市北区") == ("大阪府", "大阪市北区")
    assert read("狛江市") == ("東京都", "狛江市")
    assert read("  ") == ("東京都", "狛江市")
    assert asked == []
    assert read("横浜市青葉区") == ("神奈川県", "横浜市青葉区")
    assert read("どこか町") == ("東京都", "どこか町")  # the directory does not know it
    assert asked == ["横浜市青葉区", "どこか町"]
