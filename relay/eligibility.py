"""What a sheet says of the person, for the directory's eligibility rules and the consent
policy's adult rule: gathered here once, from the sheet and its consent records (no query).

The facts come only from sections the asking agency can itself read: a receiver that was not
given the basic section learns nothing about the person's age from a warning.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from django.utils import timezone

from agencies.eligibility import AgeRange, Mismatch, PersonFacts, certainly_adult, mismatches
from agencies.models import Agency, Service
from consent.models import ChildAssent, ConsentRecord, Decision, Grantor
from consent.vocabulary import Section
from relay.models import ReferralSheet


def age_range(sheet: ReferralSheet, at: datetime) -> AgeRange | None:
    """The ages the sheet allows on the day `at` falls on (local date)."""
    return AgeRange.of(birth_year=sheet.birth_year, grade=sheet.grade, on=timezone.localdate(at))


def is_adult(sheet: ReferralSheet, at: datetime) -> bool:
    """Certainly 18 or older at `at`: the consent policy's adult rule asks this."""
    return certainly_adult(
        birth_year=sheet.birth_year, grade=sheet.grade, on=timezone.localdate(at)
    )


def _child_wish(records: Iterable[ConsentRecord], at: datetime) -> bool | None:
    """The child's own say, from the consents in force: objected wins, then assent or the
    person's own consent."""
    wish: bool | None = None
    for record in records:
        if record.decision != Decision.PERMIT or not record.in_force_at(at):
            continue
        if record.child_assent == ChildAssent.OBJECTED:
            return False
        if record.child_assent == ChildAssent.ASSENTED or Grantor.PERSON in record.grantors:
            wish = True
    return wish


def person_facts(
    *,
    sheet: ReferralSheet,
    records: Iterable[ConsentRecord],
    at: datetime,
    readable: Collection[str],
) -> PersonFacts:
    """The facts eligibility is checked against, as far as `readable` sections show them."""
    basic = Section.BASIC in readable
    return PersonFacts(
        age=age_range(sheet, at) if basic else None,
        grade=sheet.grade if basic else "",
        municipality=sheet.municipality if basic else "",
        child_wish=_child_wish(records, at),
    )


def check(
    *,
    sheet: ReferralSheet,
    records: Iterable[ConsentRecord],
    agency: Agency,
    service: Service | None,
    at: datetime,
    readable: Collection[str],
) -> list[Mismatch]:
    """Eligibility warnings for sending the sheet to the agency (and its program)."""
    facts = person_facts(sheet=sheet, records=records, at=at, readable=readable)
    return mismatches(person=facts, agency=agency, service=service)
