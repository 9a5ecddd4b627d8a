"""A program's eligibility against what a sheet says of a person (agencies/eligibility.py):
ages from a birth year or a grade, grades, places of residence (a designated city's wards are
the city), and the child's own wish. Unknown facts are never a mismatch."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import translation

from agencies.eligibility import AgeRange, PersonFacts, describe, grade_labels, mismatches
from agencies.models import Agency, Service
from agencies.places import city_of, same_city


@pytest.fixture(autouse=True)
def _japanese():
    """The messages are read in Japanese, whatever language an earlier test left active."""
    with translation.override("ja"):
        yield


ON = date(2026, 12, 3)


def _person(**kw) -> PersonFacts:
    values = {"age": None, "grade": "", "municipality": "", "child_wish": None, **kw}
    return PersonFacts(**values)


def _ages(birth_year: int) -> AgeRange:
    found = AgeRange.of(birth_year=birth_year, grade="", on=ON)
    assert found is not None
    return found


def test_a_birth_year_gives_two_possible_ages_and_adulthood_only_when_certain() -> None:
    assert _ages(1993) == AgeRange(low=32, high=33)
    assert _ages(2007).certainly_adult  # 18 or 19 in 2026
    assert not _ages(2008).certainly_adult  # 17 or 18: may still be a minor
    assert AgeRange.of(birth_year=None, grade="j2", on=ON) == AgeRange(low=13, high=14)
    assert AgeRange.of(birth_year=None, grade="not_in_school", on=ON) is None


def test_the_33_year_old_falls_outside_an_agency_serving_0_to_18() -> None:
    agency = Agency(name="子ども家庭支援センター", age_min=0, age_max=18)
    [found] = mismatches(person=_person(age=_ages(1993)), agency=agency)
    assert (found.field, found.code) == ("age", "age-out-of-range")
    assert "0〜18歳" in found.message
    # At the edge (17 or 18) the person may still be served: no warning.
    assert mismatches(person=_person(age=_ages(2008)), agency=agency) == []
    # Nothing known about the age: nothing to warn about.
    assert mismatches(person=_person(), agency=agency) == []


def test_a_program_checks_grades_residence_and_the_childs_wish() -> None:
    agency = Agency(name="横浜市教育支援センター")
    program = Service(
        agency=agency,
        name="ハートフルスペース",
        grades=["e1", "e2", "e3", "e4", "e5", "e6", "j1", "j2", "j3"],
        municipalities=["横浜市"],
        requires_child_wish=True,
    )
    fits = _person(grade="j2", municipality="横浜市青葉区", child_wish=True)
    assert mismatches(person=fits, agency=agency, service=program) == []

    outside = _person(grade="h1", municipality="足立区", child_wish=None)
    found = mismatches(person=outside, agency=agency, service=program)
    assert [(m.field, m.code) for m in found] == [
        ("grade", "grade-not-served"),
        ("municipality", "municipality-not-served"),
        ("child_wish", "child-wish-not-recorded"),
    ]
    assert "小学1年〜中学3年" in found[0].message and "横浜市" in found[1].message
    objected = mismatches(
        person=_person(grade="j1", municipality="横浜市", child_wish=False),
        agency=agency,
        service=program,
    )
    assert [m.code for m in objected] == ["child-objected"]


def test_a_program_with_no_rules_warns_about_nothing_even_if_the_agency_has_ages() -> None:
    agency = Agency(name="NPO", age_min=15, age_max=39)
    program = Service(agency=agency, name="居場所")
    assert mismatches(person=_person(age=_ages(2016)), agency=agency, service=program) == []
    assert [m.field for m in mismatches(person=_person(age=_ages(2016)), agency=agency)] == ["age"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("横浜市青葉区", "横浜市", True),
        ("横浜市青葉区", "横浜市港北区", True),
        ("神奈川県横浜市青葉区", "横浜市", True),
        ("足立区", "東京都足立区", True),
        ("足立区", "葛飾区", False),
        ("明石市", "横浜市", False),
        ("足立区", "東京都", False),  # a prefecture is no city
        ("", "足立区", False),
    ],
)
def test_places_are_compared_city_by_city(a: str, b: str, same: bool) -> None:
    assert same_city(a, b) is same


def test_city_of_keeps_tokyo_wards_and_folds_designated_city_wards() -> None:
    assert city_of("足立区") == "足立区"
    assert city_of("横浜市青葉区") == "横浜市"
    assert city_of("神戸市西区") == "神戸市"
    assert city_of("東京都八王子市") == "八王子市"


def test_the_directory_describes_a_programs_eligibility_in_japanese() -> None:
    program = Service(
        name="もくせい教室",
        age_min=6,
        age_max=15,
        grades=["e1", "e2", "e3", "e4", "e5", "e6", "j1", "j2", "j3"],
        municipalities=["明石市"],
        requires_child_wish=True,
        apply_through_school=True,
    )
    lines = dict(describe(program))
    assert lines["対象年齢"] == "6〜15歳"
    assert lines["対象学年"] == "小学1年〜中学3年"
    assert lines["対象の居住地"] == "明石市"
    assert "本人の希望" in lines and "学校経由" in lines["申込"]
    assert grade_labels(["j1", "e1"]) == "小学1年、中学1年"


@pytest.mark.django_db
def test_the_model_refuses_unknown_grades_and_a_reversed_age_range() -> None:
    from django.core.exceptions import ValidationError

    from tests.factories import AgencyFactory

    program = Service(agency=AgencyFactory(), slug="x", name="x", grades=["j9"], age_min=9)
    program.age_max = 6
    with pytest.raises(ValidationError) as caught:
        program.full_clean()
    assert {"grades", "age_max"} <= set(caught.value.message_dict)
