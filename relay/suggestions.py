"""Where a routing desk might send someone: agencies of the kinds it may route to, that take
referrals, serve the person's age and needs, nearest first (the person's municipality, then
their prefecture, then the rest).

The person's details are read from what the desk holds (the provision of the hop it received,
never the live sheet); an intake record has none of them yet, so only the place counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from agencies.models import Agency, RoutingDesk
from consent.vocabulary import Section
from relay import snapshots
from relay.models import Handoff

LIMIT = 6


@dataclass(frozen=True)
class Person:
    """What the desk knows that matters for choosing: all optional."""

    municipality: str = ""
    prefecture: str = ""
    age: int | None = None
    categories: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Suggestion:
    """An agency, and why it is suggested."""

    agency: Agency
    place: str  # "municipality" | "prefecture" | "elsewhere"
    matched_categories: list[str]
    serves_age: bool | None  # None: the person's age or the agency's range is unknown
    services: list[str]


def person_from_hop(handoff: Handoff, desk: RoutingDesk) -> Person:
    """What the hop's latest provision gave the desk: municipality, age, categories."""
    provision = snapshots.latest_provision(handoff.pk)
    content = provision.content if provision is not None else {}
    basic = content.get(Section.BASIC, {})
    consultation = content.get(Section.CONSULTATION, {})
    birth_year = basic.get("birth_year")
    age = timezone.localdate().year - int(birth_year) if birth_year else None
    return Person(
        municipality=str(basic.get("municipality") or desk.municipality),
        prefecture=desk.prefecture,
        age=age,
        categories=frozenset(consultation.get("categories") or []),
    )


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
    age range known to include them. `exclude`: agencies that already have the sheet."""
    allowed = set(desk.routable_kinds)
    if kinds is not None:
        allowed &= set(kinds)
    agencies = (
        Agency.objects.filter(kind__in=sorted(allowed), accepts_referrals=True)
        .exclude(pk__in=[desk.agency_id, *exclude])
        .prefetch_related("categories", "services__categories")
    )
    if person.age is not None:
        agencies = agencies.filter(Q(age_min__isnull=True) | Q(age_min__lte=person.age)).filter(
            Q(age_max__isnull=True) | Q(age_max__gte=person.age)
        )
    ranked = []
    for agency in agencies:
        offered = {c.code for c in agency.categories.all()} | {
            c.code for s in agency.services.all() for c in s.categories.all()
        }
        matched = sorted(person.categories & offered)
        if person.categories and offered and not matched:
            continue  # it serves other needs
        if person.municipality and agency.municipality == person.municipality:
            place, rank = "municipality", 0
        elif person.prefecture and agency.prefecture == person.prefecture:
            place, rank = "prefecture", 1
        else:
            place, rank = "elsewhere", 2
        serves_age = (
            None
            if person.age is None or (agency.age_min is None and agency.age_max is None)
            else True
        )
        suggestion = Suggestion(
            agency=agency,
            place=place,
            matched_categories=matched,
            serves_age=serves_age,
            services=[s.name for s in agency.services.all()][:3],
        )
        ranked.append(((rank, -len(matched), 0 if serves_age else 1, agency.name), suggestion))
    ranked.sort(key=lambda pair: pair[0])
    return [s for _key, s in ranked[:limit]]
