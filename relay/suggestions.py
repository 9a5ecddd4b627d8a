"""Where a routing desk might send someone: agencies of the kinds it may route to, that take
referrals, serve the person's age and needs, nearest first (the person's municipality, then
their prefecture, then the rest), with the programs the person is eligible for (the same
eligibility rules as the send: agencies.eligibility).

The person's details are read from what the desk holds (the provision of the hop it received,
never the live sheet); an intake record has none of them yet, so only the place counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils import timezone

from agencies.eligibility import AgeRange, PersonFacts, mismatches
from agencies.models import Agency, RoutingDesk, Service
from agencies.places import Nearness, city_of, nearness, read_place
from consent.vocabulary import Section
from relay import snapshots
from relay.models import Handoff

LIMIT = 6

# The desk shows three places (agencies.places.Nearness, with Tokyo's other wards counted as the
# prefecture: the desk ranks them with the rest of it).
_PLACE = {
    Nearness.CITY: "municipality",
    Nearness.TOKYO_WARDS: "prefecture",
    Nearness.PREFECTURE: "prefecture",
    Nearness.ELSEWHERE: "elsewhere",
}
_PLACE_RANK = {"municipality": 0, "prefecture": 1, "elsewhere": 2}


@dataclass(frozen=True)
class Person:
    """What the desk knows that matters for choosing: all optional."""

    municipality: str = ""
    prefecture: str = ""
    age: int | None = None  # when only an age is known (a birth year gives two: birth_year)
    categories: frozenset[str] = field(default_factory=frozenset)
    birth_year: int | None = None
    grade: str = ""

    def facts(self) -> PersonFacts:
        """As the eligibility rules read a person. The child's wish is not the desk's to know
        here (it is checked at the send): unknown."""
        ages = AgeRange.of(birth_year=self.birth_year, grade=self.grade, on=timezone.localdate())
        if ages is None and self.age is not None:
            ages = AgeRange(low=self.age, high=self.age)
        return PersonFacts(
            age=ages, grade=self.grade, municipality=self.municipality, child_wish=None
        )


@dataclass(frozen=True)
class Suggestion:
    """An agency, and why it is suggested."""

    agency: Agency
    place: str  # "municipality" | "prefecture" | "elsewhere"
    matched_categories: list[str]
    serves_age: bool | None  # None: the person's age or the agency's range is unknown
    services: list[str]


def _prefecture_in_directory(municipality: str) -> str:
    """The prefecture the directory puts a municipality (or its designated city) in, or ""."""
    return (
        Agency.objects.filter(municipality__in={municipality, city_of(municipality)})
        .exclude(prefecture="")
        .values_list("prefecture", flat=True)
        .first()
    ) or ""


def place_of_person(written: str, *, near: Agency | RoutingDesk | None) -> tuple[str, str]:
    """(prefecture, municipality) of a person whose municipality a sheet writes as `written`,
    placed by the agency near them (the sender, or the desk) where it does not say:
    agencies.places.read_place, with the directory to ask."""
    return read_place(
        written,
        near_prefecture=near.prefecture if near is not None else "",
        near_municipality=near.municipality if near is not None else "",
        prefecture_of=_prefecture_in_directory,
    )


def person_from_hop(handoff: Handoff, desk: RoutingDesk) -> Person:
    """What the hop's latest provision gave the desk: municipality, age, categories."""
    provision = snapshots.latest_provision(handoff.pk)
    content = provision.content if provision is not None else {}
    basic = content.get(Section.BASIC, {})
    consultation = content.get(Section.CONSULTATION, {})
    birth_year = basic.get("birth_year")
    prefecture, municipality = place_of_person(str(basic.get("municipality") or ""), near=desk)
    return Person(
        municipality=municipality,
        prefecture=prefecture,
        birth_year=int(birth_year) if birth_year else None,
        grade=str(basic.get("grade") or ""),
        categories=frozenset(consultation.get("categories") or []),
    )


def _eligible(person: PersonFacts, agency: Agency, service: Service) -> bool:
    """An active program whose ages, grades and places admit the person (the child's own
    wish is asked at the send, not here)."""
    return service.active and not [
        m
        for m in mismatches(person=person, agency=agency, service=service)
        if m.field != "child_wish"
    ]


def suggestions_for(
    *,
    desk: RoutingDesk,
    person: Person,
    kinds: Iterable[str] | None = None,
    exclude: Iterable[int] = (),
    limit: int = LIMIT,
) -> list[Suggestion]:
    """The agencies the desk could route to, best first: the person's municipality, then
    their prefecture, then the rest; within each, more of the person's needs served, then an
    age range known to include them, then a program they are eligible for. `exclude`:
    agencies that already have the sheet. Only eligible programs are listed."""
    allowed = set(desk.routable_kinds)
    if kinds is not None:
        allowed &= set(kinds)
    agencies = (
        Agency.objects.filter(kind__in=sorted(allowed), accepts_referrals=True)
        .exclude(pk__in=[desk.agency_id, *exclude])
        .prefetch_related("categories", "services__categories")
    )
    facts = person.facts()
    ranked = []
    for agency in agencies:
        if mismatches(person=facts, agency=agency):
            continue  # its ages exclude the person
        programs = list(agency.services.all())
        eligible = [s for s in programs if _eligible(facts, agency, s)]
        offered = {c.code for c in agency.categories.all()} | {
            c.code for s in agency.services.all() for c in s.categories.all()
        }
        matched = sorted(person.categories & offered)
        if person.categories and offered and not matched:
            continue  # it serves other needs
        place = _PLACE[
            nearness(
                prefecture=person.prefecture,
                municipality=person.municipality,
                agency_prefecture=agency.prefecture,
                agency_municipality=agency.municipality,
            )
        ]
        rank = _PLACE_RANK[place]
        serves_age = (
            None
            if facts.age is None or (agency.age_min is None and agency.age_max is None)
            else True
        )
        # An agency all of whose programs leave the person out ranks after one that has a
        # program for them (or runs no listed programs).
        programs_fit = 0 if eligible or not programs else 1
        suggestion = Suggestion(
            agency=agency,
            place=place,
            matched_categories=matched,
            serves_age=serves_age,
            services=[s.name for s in eligible][:3],
        )
        key = (rank, -len(matched), 0 if serves_age else 1, programs_fit, agency.name, agency.pk)
        ranked.append((key, suggestion))
    ranked.sort(key=lambda pair: pair[0])
    return [s for _key, s in ranked[:limit]]
