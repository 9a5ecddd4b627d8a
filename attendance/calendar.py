"""School days: the business calendar duework uses (weekends, Japanese public holidays, the
year-end closure) plus the school's own closures; school years run April to March."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta

from agencies.models import Agency
from attendance.models import Closure
from duework.business_time import BusinessCalendar


def school_year_of(day: date) -> int:
    """The school year (年度) a date belongs to: April to the next March."""
    return day.year if day.month >= 4 else day.year - 1


def year_bounds(school_year: int) -> tuple[date, date]:
    return date(school_year, 4, 1), date(school_year + 1, 3, 31)


def closed_dates(school: Agency, *, within: tuple[date, date] | None = None) -> set[date]:
    """The school's own closed days: the agency's closed days and every day of its closures."""
    days = {date.fromisoformat(str(d)) for d in (school.closed_days or [])}
    closures = Closure.objects.filter(school=school)
    if within is not None:
        closures = closures.filter(end__gte=within[0], start__lte=within[1])
    for start, end in closures.values_list("start", "end"):
        day = start
        while day <= end:
            days.add(day)
            day += timedelta(days=1)
    return days


def school_calendar(school: Agency, *, within: tuple[date, date] | None = None) -> BusinessCalendar:
    """The calendar of school days: duework's business calendar with the school's closures."""
    return BusinessCalendar(closed_days=frozenset(closed_dates(school, within=within)))


def school_days(calendar: BusinessCalendar, start: date, end: date) -> Iterator[date]:
    """The school days from `start` to `end`, both included, in order."""
    day = start
    while day <= end:
        if calendar.is_business_day(day):
            yield day
        day += timedelta(days=1)


def add_school_days(calendar: BusinessCalendar, day: date, count: int) -> date:
    """`count` school days after `day` (0: `day` itself, or the next school day if it is
    closed)."""
    while not calendar.is_business_day(day):
        day += timedelta(days=1)
    for _step in range(count):
        day += timedelta(days=1)
        while not calendar.is_business_day(day):
            day += timedelta(days=1)
    return day


def count_school_days(calendar: BusinessCalendar, days: Iterable[date]) -> int:
    return sum(1 for d in days if calendar.is_business_day(d))
