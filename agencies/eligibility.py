"""Who a program (or, without one, an agency) serves, against what a sheet says of a person.

A mismatch is a warning, not a refusal: the counselor may send anyway with a reason, which the
workflow audits. What the sheet does not say (no birth year, no grade, no municipality) is not
a mismatch. Pure functions over plain facts: the workflow gathers the facts, nothing here
queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agencies.grades import GRADE_AGE, Grade
from agencies.places import city_of, same_city

if TYPE_CHECKING:
    from agencies.models import Agency, Service

# The age of majority (民法 4条): from 18, a person consents for themselves.
ADULT_AGE = 18


@dataclass(frozen=True)
class AgeRange:
    """The ages the sheet allows the person to have on a day: a birth year alone gives two."""

    low: int
    high: int

    @classmethod
    def of(cls, *, birth_year: int | None, grade: str, on: date) -> AgeRange | None:
        if birth_year:
            # Born in `birth_year`: not yet had this year's birthday, or had it.
            return cls(low=on.year - birth_year - 1, high=on.year - birth_year)
        if grade in GRADE_AGE:
            return cls(low=GRADE_AGE[grade], high=GRADE_AGE[grade] + 1)
        return None

    @property
    def certainly_adult(self) -> bool:
        return self.low >= ADULT_AGE

    def outside(self, minimum: int | None, maximum: int | None) -> bool:
        """True when no age the sheet allows lies within [minimum, maximum]."""
        return (minimum is not None and self.high < minimum) or (
            maximum is not None and self.low > maximum
        )


def certainly_adult(*, birth_year: int | None, grade: str, on: date) -> bool:
    """18 or older on `on` whatever the birthday: the consent policy's adult rule asks this."""
    ages = AgeRange.of(birth_year=birth_year, grade=grade, on=on)
    return ages is not None and ages.certainly_adult


@dataclass(frozen=True)
class PersonFacts:
    """What a sheet (and its consent records) say about the person, for eligibility."""

    age: AgeRange | None
    grade: str
    municipality: str
    # True: the child's own wish (assent, or their own consent) is recorded; False: they
    # objected; None: nothing recorded.
    child_wish: bool | None


@dataclass(frozen=True)
class Mismatch:
    """One way the person falls outside whom the program serves; `field` names the fact."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


def _ages(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return _("%(low)s〜%(high)s歳") % {"low": minimum, "high": maximum}
    if minimum is not None:
        return _("%(low)s歳以上") % {"low": minimum}
    return _("%(high)s歳まで") % {"high": maximum}


def _age_mismatch(
    person: PersonFacts, minimum: int | None, maximum: int | None, whose: str
) -> Mismatch | None:
    if person.age is None or (minimum is None and maximum is None):
        return None
    if not person.age.outside(minimum, maximum):
        return None
    return Mismatch(
        field="age",
        code="age-out-of-range",
        message=_("%(whose)sの対象年齢(%(ages)s)に当てはまりません。")
        % {"whose": whose, "ages": _ages(minimum, maximum)},
    )


def mismatches(
    *, person: PersonFacts, agency: Agency, service: Service | None = None
) -> list[Mismatch]:
    """How the person falls outside the program's eligibility (or the agency's ages)."""
    if service is None:
        found = _age_mismatch(person, agency.age_min, agency.age_max, _("送付先の機関"))
        return [found] if found else []
    result: list[Mismatch] = []
    found = _age_mismatch(person, service.age_min, service.age_max, _("この支援メニュー"))
    if found:
        result.append(found)
    if service.grades and person.grade and person.grade not in service.grades:
        result.append(
            Mismatch(
                field="grade",
                code="grade-not-served",
                message=_("この支援メニューの対象学年(%(grades)s)に当てはまりません。")
                % {"grades": grade_labels(service.grades)},
            )
        )
    if (
        service.municipalities
        and person.municipality
        and not any(same_city(person.municipality, m) for m in service.municipalities)
    ):
        result.append(
            Mismatch(
                field="municipality",
                code="municipality-not-served",
                message=_("この支援メニューは %(places)s に住む人が対象です。")
                % {"places": "、".join(city_of(m) or m for m in service.municipalities)},
            )
        )
    if service.requires_child_wish and person.child_wish is not True:
        result.append(
            Mismatch(
                field="child_wish",
                code="child-objected" if person.child_wish is False else "child-wish-not-recorded",
                message=_(
                    "この支援メニューの利用には本人の希望が必要ですが、本人は反対しています。"
                )
                if person.child_wish is False
                else _(
                    "この支援メニューの利用には本人の希望が必要ですが、同意記録に本人の意向"
                    "(本人の同意または賛成)が記録されていません。"
                ),
            )
        )
    return result


def grade_labels(codes: list[str]) -> str:
    """「小学1年〜中学3年」 for a run of grades, else the grades listed."""
    order = [g for g in Grade.values if g in codes]
    if not order:
        return ""
    values = list(Grade.values)
    first, last = values.index(order[0]), values.index(order[-1])
    if len(order) > 2 and last - first + 1 == len(order):
        return f"{Grade(order[0]).label}〜{Grade(order[-1]).label}"
    return "、".join(str(Grade(g).label) for g in order)


def describe(service: Service) -> list[tuple[str, str]]:
    """The program's eligibility as (label, value) lines for people, Japanese first."""
    lines: list[tuple[str, str]] = []
    if service.age_min is not None or service.age_max is not None:
        lines.append((_("対象年齢"), _ages(service.age_min, service.age_max)))
    if service.grades:
        lines.append((_("対象学年"), grade_labels(service.grades)))
    if service.municipalities:
        lines.append((_("対象の居住地"), "、".join(service.municipalities)))
    if service.requires_child_wish:
        lines.append((_("本人の希望"), _("本人が利用を希望していること")))
    if service.apply_through_school:
        lines.append((_("申込"), _("学校経由で申し込む(申込は学校経由)")))
    return lines


# The facts a mismatch names, for people (the hop page lists the rules a sender overrode).
ELIGIBILITY_FIELD_LABELS = {
    "age": gettext_lazy("年齢"),
    "grade": gettext_lazy("学年"),
    "municipality": gettext_lazy("居住地"),
    "child_wish": gettext_lazy("本人の希望"),
}
