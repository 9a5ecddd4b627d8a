"""Business-time arithmetic for acknowledgment deadlines and escalation delays.

Deadlines in Tsunagu count *business* time only: the daily opening window (09:00–17:00
Asia/Tokyo by default) on business days. A day is not a business day when it is

* a Saturday or Sunday,
* a Japanese public holiday, including substitute (振替休日) and sandwiched (国民の休日)
  holidays, as published by the ``holidays`` library (country ``JP``),
* inside the year-end closure 12/29–1/3 that Japanese public offices observe
  (``year_end_closure``, on by default), or
* one of the agency's own closed days (``closed_days``).

Everything here is pure: no models, no database, no settings. Durations are real elapsed
time (computed in UTC), so a calendar in a zone with daylight saving time stays correct;
Asia/Tokyo has none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

__all__ = ["TOKYO", "BusinessCalendar", "default_calendar"]

TOKYO = ZoneInfo("Asia/Tokyo")

#: How far ahead to look for a business day before deciding the calendar has none.
MAX_SCAN_DAYS = 366 * 3

_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_MICROSECONDS_PER_HOUR = 3_600_000_000


@lru_cache(maxsize=256)
def _jp_holidays(year: int) -> frozenset[date]:
    """Japanese public holidays of ``year``, computed once per year by the holidays library.

    Raises ValueError for years the library has no data for (it would otherwise silently
    return no holidays, and deadlines would quietly count public holidays as working days).
    """
    calendar = holidays.country_holidays("JP", years=year)
    if not calendar.start_year <= year <= calendar.end_year:
        raise ValueError(
            f"no Japanese holiday data for {year} "
            f"(holidays library covers {calendar.start_year}–{calendar.end_year})"
        )
    return frozenset(calendar)


def _in_year_end_closure(d: date) -> bool:
    """True for 12/29–12/31 and 1/1–1/3, the closure of Japanese public offices."""
    return (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)


def _require_aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def _as_timedelta(hours: float | Decimal | timedelta) -> timedelta:
    """Convert a non-negative amount of hours to a timedelta (microsecond precision)."""
    if isinstance(hours, bool):
        raise TypeError("hours must be a number of hours or a timedelta, not bool")
    if isinstance(hours, timedelta):
        delta = hours
    elif isinstance(hours, Decimal):
        if not hours.is_finite():
            raise ValueError(f"hours must be finite, got {hours}")
        micros = (hours * _MICROSECONDS_PER_HOUR).to_integral_value(rounding=ROUND_HALF_EVEN)
        delta = timedelta(microseconds=int(micros))
    elif isinstance(hours, int | float):
        if not math.isfinite(hours):
            raise ValueError(f"hours must be finite, got {hours}")
        delta = timedelta(hours=hours)
    else:
        raise TypeError(
            f"hours must be a number of hours or a timedelta, not {type(hours).__name__}"
        )
    if delta < _ZERO:
        raise ValueError(f"hours must not be negative, got {hours!r}")
    return delta


@dataclass(frozen=True)
class BusinessCalendar:
    """When business time runs: a daily window on business days, in one time zone.

    ``closed_days`` are the agency's own closures (dates in ``tz``); any iterable of dates is
    accepted and stored as a frozenset. The window is ``[day_start, day_end)`` local time and
    must not be empty.
    """

    tz: tzinfo = TOKYO
    day_start: time = time(9, 0)
    day_end: time = time(17, 0)
    closed_days: frozenset[date] = field(default_factory=frozenset)
    year_end_closure: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.tz, tzinfo):
            raise TypeError(f"tz must be a tzinfo (e.g. ZoneInfo), not {type(self.tz).__name__}")
        for name in ("day_start", "day_end"):
            value = getattr(self, name)
            if not isinstance(value, time):
                raise TypeError(f"{name} must be a datetime.time, not {type(value).__name__}")
            if value.tzinfo is not None:
                raise ValueError(f"{name} must be a naive local time; the zone is tz")
        if self.day_end <= self.day_start:
            raise ValueError(f"day_end ({self.day_end}) must be after day_start ({self.day_start})")
        closed = frozenset(self.closed_days)
        for d in closed:
            if not isinstance(d, date) or isinstance(d, datetime):
                raise TypeError(f"closed_days must hold dates, got {d!r}")
        object.__setattr__(self, "closed_days", closed)

    # -- days -------------------------------------------------------------------------------

    def is_business_day(self, d: date) -> bool:
        """Whether business time runs at all on the local date ``d``.

        Raises ValueError if the holidays library has no data for ``d.year`` (before 1949 or
        after 2099).
        """
        if isinstance(d, datetime):
            raise TypeError("is_business_day takes a date; use at.astimezone(calendar.tz).date()")
        is_holiday = d in _jp_holidays(d.year)
        return not (
            is_holiday
            or d.weekday() >= 5
            or (self.year_end_closure and _in_year_end_closure(d))
            or d in self.closed_days
        )

    def _next_business_day(self, d: date) -> date:
        """The first business day on or after ``d``."""
        for offset in range(MAX_SCAN_DAYS):
            candidate = d + timedelta(days=offset)
            if self.is_business_day(candidate):
                return candidate
        raise ValueError(
            f"no business day in the {MAX_SCAN_DAYS} days from {d.isoformat()}; check closed_days"
        )

    def _window(self, d: date) -> tuple[datetime, datetime]:
        """Opening and closing instants of local date ``d``, in UTC."""
        opening = datetime.combine(d, self.day_start, tzinfo=self.tz).astimezone(UTC)
        closing = datetime.combine(d, self.day_end, tzinfo=self.tz).astimezone(UTC)
        return opening, closing

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    # -- instants ---------------------------------------------------------------------------

    def is_business_time(self, at: datetime) -> bool:
        """Whether business time is running at the aware instant ``at`` (window is half-open)."""
        at_utc = _require_aware("at", at).astimezone(UTC)
        d = self._local_date(at_utc)
        if not self.is_business_day(d):
            return False
        opening, closing = self._window(d)
        return opening <= at_utc < closing

    def next_opening(self, at: datetime) -> datetime:
        """The earliest instant at or after ``at`` at which business time is running.

        That is ``at`` itself (in ``tz``) when it is inside business hours, otherwise
        ``day_start`` on the next business day — today's if ``at`` is before opening on a
        business day. ``day_end`` itself is outside business hours.
        """
        at_utc = _require_aware("at", at).astimezone(UTC)
        d = self._local_date(at_utc)
        if self.is_business_day(d):
            opening, closing = self._window(d)
            if at_utc < opening:
                return opening.astimezone(self.tz)
            if at_utc < closing:
                return at_utc.astimezone(self.tz)
        opening, _ = self._window(self._next_business_day(d + _ONE_DAY))
        return opening.astimezone(self.tz)

    def add_business_hours(self, start: datetime, hours: float | Decimal | timedelta) -> datetime:
        """The instant ``hours`` of business time after ``start``, in ``tz``.

        ``start`` must be aware (any zone). If it is outside business time, counting begins at
        :meth:`next_opening`; so zero hours gives ``next_opening(start)``. A result that lands
        exactly on closing time stays at ``day_end`` rather than rolling to the next opening.
        ``hours`` may be a float, int, Decimal (exact to the microsecond) or timedelta; it
        must be finite and non-negative.

        Whole business days are consumed in one step each, so a month of hours is a few dozen
        iterations.
        """
        _require_aware("start", start)
        remaining = _as_timedelta(hours)
        cursor = self.next_opening(start).astimezone(UTC)
        d = self._local_date(cursor)
        while True:
            _, closing = self._window(d)
            available = closing - cursor
            if remaining <= available:
                return (cursor + remaining).astimezone(self.tz)
            remaining -= available
            d = self._next_business_day(d + _ONE_DAY)
            cursor, _ = self._window(d)

    def business_hours_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time elapsed from ``start`` to ``end`` (both aware); zero if end <= start.

        For any aware ``start`` and duration ``h >= 0``,
        ``business_hours_between(start, add_business_hours(start, h)) == h`` exactly (to the
        microsecond): time outside business hours contributes nothing, so the start need not
        be normalised with :meth:`next_opening` first.
        """
        start_utc = _require_aware("start", start).astimezone(UTC)
        end_utc = _require_aware("end", end).astimezone(UTC)
        if end_utc <= start_utc:
            return _ZERO
        total = _ZERO
        d = self._local_date(start_utc)
        last = self._local_date(end_utc)
        while d <= last:
            if self.is_business_day(d):
                opening, closing = self._window(d)
                lo, hi = max(opening, start_utc), min(closing, end_utc)
                if hi > lo:
                    total += hi - lo
            d += _ONE_DAY
        return total


def default_calendar(closed_days: Iterable[date] = ()) -> BusinessCalendar:
    """Tsunagu's standard calendar: 09:00–17:00 Asia/Tokyo, weekends, Japanese public
    holidays and the 12/29–1/3 year-end closure off, plus the agency's ``closed_days``."""
    return BusinessCalendar(closed_days=frozenset(closed_days))
