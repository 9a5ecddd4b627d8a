"""Business-time arithmetic: weekends, Japanese holidays, year-end closure, agency closures.

Every expected datetime below is worked out by hand (the arithmetic is in the comments), not
recomputed with the code under test. Holiday facts were checked against the holidays library
(0.109): 2026 Golden Week is Wed 4/29 昭和の日, Sun 5/3 憲法記念日, Mon 5/4 みどりの日,
Tue 5/5 こどもの日 and Wed 5/6 振替休日; 2026-09-22 is a 国民の休日 between 敬老の日 and
秋分の日; 2026-11-23 勤労感謝の日 is a Monday; 2027-01-01 is a Friday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay import business_time
from relay.business_time import TOKYO, BusinessCalendar, default_calendar

CAL = default_calendar()
H = timedelta(hours=1)


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


# -- business days --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 6, 5), True),  # plain Friday
        (date(2026, 6, 6), False),  # Saturday
        (date(2026, 6, 7), False),  # Sunday
        (date(2026, 11, 23), False),  # 勤労感謝の日 (Monday)
        (date(2026, 4, 28), True),  # Tuesday before Golden Week
        (date(2026, 4, 29), False),  # 昭和の日
        (date(2026, 4, 30), True),
        (date(2026, 5, 1), True),
        (date(2026, 5, 4), False),  # みどりの日
        (date(2026, 5, 5), False),  # こどもの日
        (date(2026, 5, 6), False),  # 振替休日 for 5/3 (a Sunday)
        (date(2026, 5, 7), True),
        (date(2026, 9, 22), False),  # 国民の休日, sandwiched between two holidays
        (date(2026, 12, 28), True),  # last working day of 2026
        (date(2026, 12, 29), False),  # year-end closure (a Tuesday)
        (date(2026, 12, 31), False),
        (date(2027, 1, 1), False),  # 元日 and closure
        (date(2027, 1, 4), True),  # first working day of 2027 (Monday)
    ],
)
def test_is_business_day(day: date, expected: bool) -> None:
    assert CAL.is_business_day(day) is expected


def test_year_end_closure_can_be_switched_off() -> None:
    cal = BusinessCalendar(year_end_closure=False)
    assert cal.is_business_day(date(2026, 12, 29))  # Tuesday
    assert cal.is_business_day(date(2026, 12, 30))
    assert cal.is_business_day(date(2026, 12, 31))
    assert not cal.is_business_day(date(2027, 1, 1))  # still 元日, a public holiday
    assert cal.is_business_day(date(2026, 1, 2))  # Friday 2026-01-02


def test_agency_closed_days() -> None:
    cal = default_calendar([date(2026, 6, 8)])
    assert not cal.is_business_day(date(2026, 6, 8))
    assert cal.is_business_day(date(2026, 6, 9))
    assert cal.closed_days == frozenset({date(2026, 6, 8)})


# -- add_business_hours ---------------------------------------------------------------------


def test_sixteen_hours_from_friday_afternoon_lands_on_tuesday() -> None:
    # Fri 6/5 15:00–17:00 = 2h, weekend, Mon 6/8 = 8h (10h), Tue 6/9 09:00 + 6h = 15:00.
    assert CAL.add_business_hours(jst(2026, 6, 5, 15), 16) == jst(2026, 6, 9, 15)


def test_across_a_public_holiday() -> None:
    # Fri 11/20 10:00–17:00 = 7h, weekend, Mon 11/23 勤労感謝の日, Tue 11/24 09:00 + 1h.
    assert CAL.add_business_hours(jst(2026, 11, 20, 10), 8) == jst(2026, 11, 24, 10)


def test_across_golden_week_2026() -> None:
    # Tue 4/28 15:00–17:00 = 2h, Wed 4/29 昭和の日, Thu 4/30 = 8h (10h), Fri 5/1 09:00 + 6h.
    assert CAL.add_business_hours(jst(2026, 4, 28, 15), 16) == jst(2026, 5, 1, 15)
    # Fri 5/1 13:00–17:00 = 4h, then Sat 5/2 to Wed 5/6 closed, Thu 5/7 09:00 + 4h = 13:00.
    assert CAL.add_business_hours(jst(2026, 5, 1, 13), 8) == jst(2026, 5, 7, 13)


def test_across_year_end_closure() -> None:
    # Fri 12/25 15:00–17:00 = 2h, weekend, Mon 12/28 = 8h (10h), 12/29–1/3 closed,
    # Mon 2027-01-04 09:00 + 6h = 15:00.
    assert CAL.add_business_hours(jst(2026, 12, 25, 15), 16) == jst(2027, 1, 4, 15)


def test_across_year_end_without_closure() -> None:
    cal = BusinessCalendar(year_end_closure=False)
    # Fri 12/25 2h, Mon 12/28 8h (10h), Tue 12/29 09:00 + 6h = 15:00.
    assert cal.add_business_hours(jst(2026, 12, 25, 15), 16) == jst(2026, 12, 29, 15)
    # Wed 2025-12-31 15:00–17:00 = 2h, Thu 2026-01-01 元日, Fri 1/2 = 8h (10h),
    # weekend, Mon 1/5 09:00 + 6h = 15:00.
    assert cal.add_business_hours(jst(2025, 12, 31, 15), 16) == jst(2026, 1, 5, 15)


def test_start_inside_year_end_closure() -> None:
    # 2025-12-31 is closed, so counting starts Mon 2026-01-05 09:00 (1/1–1/3 closed, 1/4 Sunday):
    # Mon = 8h, Tue 1/6 09:00 + 8h = 17:00.
    assert CAL.add_business_hours(jst(2025, 12, 31, 15), 16) == jst(2026, 1, 6, 17)


def test_across_an_agency_closed_day() -> None:
    cal = default_calendar([date(2026, 6, 8)])
    # Fri 6/5 2h, weekend, Mon 6/8 closed by the agency, Tue 6/9 8h (10h), Wed 6/10 09:00 + 6h.
    assert cal.add_business_hours(jst(2026, 6, 5, 15), 16) == jst(2026, 6, 10, 15)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (jst(2026, 6, 8, 7, 30), 2, jst(2026, 6, 8, 11)),  # before opening: from 09:00
        (jst(2026, 6, 8, 18), 2, jst(2026, 6, 9, 11)),  # after closing: from Tue 09:00
        (jst(2026, 6, 8, 17), 2, jst(2026, 6, 9, 11)),  # at closing: from Tue 09:00
        (jst(2026, 6, 5, 23, 59), 1, jst(2026, 6, 8, 10)),  # Friday night: from Mon 09:00
        (jst(2026, 6, 6, 10), 1, jst(2026, 6, 8, 10)),  # Saturday: from Mon 09:00
        (jst(2026, 11, 23, 10), 2, jst(2026, 11, 24, 11)),  # on 勤労感謝の日: from Tue 09:00
        (jst(2026, 5, 3, 12), 3, jst(2026, 5, 7, 12)),  # in Golden Week: from Thu 5/7 09:00
    ],
)
def test_start_outside_business_time(start: datetime, hours: int, expected: datetime) -> None:
    assert CAL.add_business_hours(start, hours) == expected


def test_utc_input_is_converted_to_tokyo() -> None:
    # 06:00 UTC = Fri 15:00 JST, so this is the Friday-to-Tuesday case.
    result = CAL.add_business_hours(datetime(2026, 6, 5, 6, tzinfo=UTC), 16)
    assert result == jst(2026, 6, 9, 15)
    assert result.tzinfo is TOKYO
    assert result.utcoffset() == timedelta(hours=9)
    assert (result.hour, result.minute) == (15, 0)


def test_utc_sunday_is_monday_morning_in_tokyo() -> None:
    # Sun 6/7 23:30 UTC = Mon 6/8 08:30 JST: counting starts Mon 09:00, not on the Sunday.
    assert CAL.add_business_hours(datetime(2026, 6, 7, 23, 30, tzinfo=UTC), 1) == jst(
        2026, 6, 8, 10
    )
    # And a US zone: Thu 6/4 20:00 EDT = Fri 6/5 09:00 JST.
    new_york = ZoneInfo("America/New_York")
    assert CAL.add_business_hours(datetime(2026, 6, 4, 20, tzinfo=new_york), 8) == jst(
        2026, 6, 5, 17
    )


def test_exact_end_of_day_stays_at_closing() -> None:
    assert CAL.add_business_hours(jst(2026, 6, 8, 9), 8) == jst(2026, 6, 8, 17)
    assert CAL.add_business_hours(jst(2026, 6, 5, 16), 1) == jst(2026, 6, 5, 17)  # Friday
    # Mon 6/8 09:00 + 16h = Mon 8h + Tue 8h -> Tue 17:00, not Wed 09:00.
    assert CAL.add_business_hours(jst(2026, 6, 8, 9), 16) == jst(2026, 6, 9, 17)
    # One microsecond more rolls over to the next opening.
    assert CAL.add_business_hours(
        jst(2026, 6, 8, 9), timedelta(hours=8, microseconds=1)
    ) == datetime(2026, 6, 9, 9, 0, 0, 1, tzinfo=TOKYO)


def test_zero_hours_gives_the_next_opening() -> None:
    assert CAL.add_business_hours(jst(2026, 6, 8, 10, 15), 0) == jst(2026, 6, 8, 10, 15)
    assert CAL.add_business_hours(jst(2026, 6, 5, 17), 0) == jst(2026, 6, 8, 9)


def test_hours_as_decimal_float_and_timedelta() -> None:
    start = jst(2026, 6, 8, 9)
    expected = jst(2026, 6, 8, 10, 30)
    assert CAL.add_business_hours(start, Decimal("1.5")) == expected
    assert CAL.add_business_hours(start, 1.5) == expected
    assert CAL.add_business_hours(start, timedelta(minutes=90)) == expected
    # 1/3 hour = 20 minutes, exact to the microsecond.
    assert CAL.add_business_hours(start, Decimal(1) / Decimal(3)) == jst(2026, 6, 8, 9, 20)


def test_custom_business_hours() -> None:
    cal = BusinessCalendar(day_start=time(10), day_end=time(15, 30))  # 5.5h a day
    # Fri 6/5 14:00–15:30 = 1.5h, weekend, Mon 6/8 10:00 + 4.5h = 14:30.
    assert cal.add_business_hours(jst(2026, 6, 5, 14), 6) == jst(2026, 6, 8, 14, 30)
    # 11h = two full days: Mon 6/8 10:00 -> Tue 6/9 15:30.
    assert cal.add_business_hours(jst(2026, 6, 8, 10), 11) == jst(2026, 6, 9, 15, 30)


def test_other_calendar_zone() -> None:
    cal = BusinessCalendar(tz=UTC)
    # Fri 2026-06-05 16:00 UTC + 2h: 1h Friday, Mon 6/8 09:00 UTC + 1h.
    result = cal.add_business_hours(datetime(2026, 6, 5, 16, tzinfo=UTC), 2)
    assert result == datetime(2026, 6, 8, 10, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_a_month_of_hours() -> None:
    # June 2026 has 22 weekdays and no holidays: 22 x 8h = 176h from Mon 6/1 09:00 ends
    # Tue 6/30 17:00; one more hour is Wed 7/1 10:00.
    assert CAL.add_business_hours(jst(2026, 6, 1, 9), 176) == jst(2026, 6, 30, 17)
    assert CAL.add_business_hours(jst(2026, 6, 1, 9), 177) == jst(2026, 7, 1, 10)


def test_holidays_are_computed_once_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = holidays.country_holidays

    def counting(country: str, *, years: int) -> holidays.HolidayBase:
        calls.append(years)
        return real(country, years=years)

    business_time._jp_holidays.cache_clear()
    monkeypatch.setattr(business_time.holidays, "country_holidays", counting)
    try:
        for _ in range(3):
            # Crosses from 2026 into 2027.
            assert CAL.add_business_hours(jst(2026, 12, 25, 15), 16) == jst(2027, 1, 4, 15)
        assert sorted(calls) == [2026, 2027]
    finally:
        business_time._jp_holidays.cache_clear()


# -- next_opening ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (jst(2026, 6, 8, 8), jst(2026, 6, 8, 9)),  # before opening
        (jst(2026, 6, 8, 9), jst(2026, 6, 8, 9)),  # at opening
        (jst(2026, 6, 8, 12, 34), jst(2026, 6, 8, 12, 34)),  # open: itself
        (jst(2026, 6, 8, 17), jst(2026, 6, 9, 9)),  # closing time is closed
        (jst(2026, 6, 5, 17), jst(2026, 6, 8, 9)),  # Friday evening -> Monday
        (jst(2026, 4, 28, 18), jst(2026, 4, 30, 9)),  # 4/29 昭和の日 skipped
        (jst(2026, 5, 1, 17), jst(2026, 5, 7, 9)),  # Golden Week skipped
        (jst(2026, 12, 28, 17), jst(2027, 1, 4, 9)),  # year-end closure skipped
        (datetime(2026, 6, 8, 3, tzinfo=UTC), jst(2026, 6, 8, 12)),  # 03:00 UTC = 12:00 JST
    ],
)
def test_next_opening(at: datetime, expected: datetime) -> None:
    result = CAL.next_opening(at)
    assert result == expected
    assert result.tzinfo is TOKYO


def test_is_business_time() -> None:
    assert CAL.is_business_time(jst(2026, 6, 8, 9))
    assert CAL.is_business_time(jst(2026, 6, 8, 16, 59))
    assert not CAL.is_business_time(jst(2026, 6, 8, 17))
    assert not CAL.is_business_time(jst(2026, 6, 8, 8, 59))
    assert not CAL.is_business_time(jst(2026, 11, 23, 12))
    assert CAL.is_business_time(datetime(2026, 6, 8, 0, tzinfo=UTC))  # 09:00 JST


# -- business_hours_between -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (jst(2026, 6, 5, 15), jst(2026, 6, 9, 15), 16 * H),  # Fri 2h + Mon 8h + Tue 6h
        (jst(2026, 11, 20, 10), jst(2026, 11, 24, 10), 8 * H),  # 勤労感謝の日 skipped
        (jst(2026, 5, 1, 9), jst(2026, 5, 7, 17), 16 * H),  # Golden Week: Fri + Thu
        (jst(2026, 12, 25, 0), jst(2027, 1, 5, 0), 24 * H),  # 12/25, 12/28, 1/4
        (jst(2026, 6, 6, 0), jst(2026, 6, 8, 0), timedelta(0)),  # a weekend
        (jst(2026, 6, 8, 17), jst(2026, 6, 9, 9), timedelta(0)),  # overnight
        (jst(2026, 6, 8, 12), jst(2026, 6, 8, 12), timedelta(0)),  # empty
        (jst(2026, 6, 9, 12), jst(2026, 6, 8, 12), timedelta(0)),  # end before start
        (jst(2026, 6, 8, 7), jst(2026, 6, 8, 20), 8 * H),  # a whole day, clipped
        (jst(2026, 6, 8, 10, 15), jst(2026, 6, 8, 10, 45), timedelta(minutes=30)),
        # 00:00 UTC = 09:00 JST; 10:00 UTC = 19:00 JST.
        (datetime(2026, 6, 8, 0, tzinfo=UTC), datetime(2026, 6, 8, 10, tzinfo=UTC), 8 * H),
    ],
)
def test_business_hours_between(start: datetime, end: datetime, expected: timedelta) -> None:
    assert CAL.business_hours_between(start, end) == expected


def test_between_without_year_end_closure() -> None:
    cal = BusinessCalendar(year_end_closure=False)
    # 12/25, 12/28, 12/29, 12/30, 12/31 (1/1 元日, 1/2–1/3 weekend), 1/4 = 6 days.
    assert cal.business_hours_between(jst(2026, 12, 25, 0), jst(2027, 1, 5, 0)) == 48 * H


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day_start", "day_end"), [(time(17), time(9)), (time(9), time(9)), (time(12), time(11, 59))]
)
def test_empty_business_day_is_rejected(day_start: time, day_end: time) -> None:
    with pytest.raises(ValueError, match="day_end"):
        BusinessCalendar(day_start=day_start, day_end=day_end)


def test_aware_window_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        BusinessCalendar(day_start=time(9, tzinfo=UTC))


def test_closed_days_must_be_dates() -> None:
    with pytest.raises(TypeError, match="closed_days"):
        default_calendar([datetime(2026, 6, 8, 9, tzinfo=TOKYO)])


def test_closed_days_accepts_any_iterable_and_stays_hashable() -> None:
    cal = BusinessCalendar(closed_days={date(2026, 6, 8)})  # type: ignore[arg-type]
    assert isinstance(cal.closed_days, frozenset)
    assert hash(cal) == hash(default_calendar([date(2026, 6, 8)]))


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 6, 8, 10)  # noqa: DTZ001
    aware = jst(2026, 6, 8, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_business_hours(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.business_hours_between(naive, aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.business_hours_between(aware, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.next_opening(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.is_business_time(naive)


@pytest.mark.parametrize("hours", [-1, -0.5, Decimal("-0.1"), timedelta(minutes=-1)])
def test_negative_hours_are_rejected(hours: float | Decimal | timedelta) -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_business_hours(jst(2026, 6, 8, 10), hours)


@pytest.mark.parametrize("hours", [float("nan"), float("inf"), Decimal("NaN"), Decimal("Infinity")])
def test_non_finite_hours_are_rejected(hours: float | Decimal) -> None:
    with pytest.raises(ValueError, match="finite"):
        CAL.add_business_hours(jst(2026, 6, 8, 10), hours)


def test_datetime_passed_as_date_is_rejected() -> None:
    with pytest.raises(TypeError, match="takes a date"):
        CAL.is_business_day(jst(2026, 6, 8, 10))


def test_calendar_with_no_business_days_raises_instead_of_looping() -> None:
    first = date(2026, 1, 1)
    every_day = [first + timedelta(days=n) for n in range(366 * 4)]
    cal = default_calendar(every_day)
    with pytest.raises(ValueError, match="no business day"):
        cal.add_business_hours(jst(2026, 6, 8, 10), 1)
    with pytest.raises(ValueError, match="no business day"):
        cal.next_opening(jst(2026, 6, 8, 10))
    # Measuring elapsed time does not need a next business day: it is simply zero.
    assert cal.business_hours_between(jst(2026, 6, 1), jst(2026, 7, 1)) == timedelta(0)


def test_years_without_holiday_data_raise() -> None:
    # The holidays library covers JP for 1949–2099 and returns nothing outside it; counting
    # 2100's holidays as working days would be silently wrong.
    with pytest.raises(ValueError, match="no Japanese holiday data for 2100"):
        CAL.is_business_day(date(2100, 6, 1))


# -- properties -----------------------------------------------------------------------------

INPUT_ZONES = st.sampled_from(
    [TOKYO, UTC, ZoneInfo("America/New_York"), timezone(timedelta(hours=-3, minutes=-30))]
)
STARTS = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - bounds are naive by hypothesis' API
    max_value=datetime(2027, 12, 31, 23, 59, 59),  # noqa: DTZ001
    timezones=INPUT_ZONES,
)
HOURS = st.floats(min_value=0, max_value=200, allow_nan=False, allow_infinity=False)
CALENDARS = st.sampled_from(
    [
        CAL,
        BusinessCalendar(year_end_closure=False),
        default_calendar([date(2026, 6, 8), date(2026, 12, 28), date(2027, 1, 4)]),
        BusinessCalendar(day_start=time(8, 30), day_end=time(17, 15)),
        # A zone with daylight saving time: durations are real elapsed time.
        BusinessCalendar(tz=ZoneInfo("Europe/London"), year_end_closure=False),
    ]
)


@settings(max_examples=300, deadline=None)
@given(cal=CALENDARS, start=STARTS, hours=HOURS)
def test_between_inverts_add(cal: BusinessCalendar, start: datetime, hours: float) -> None:
    """business_hours_between(s, add(s, h)) == h exactly, whether or not s is in business
    time (time outside business hours counts zero), and also from next_opening(s)."""
    h = timedelta(hours=hours)
    end = cal.add_business_hours(start, hours)
    assert cal.business_hours_between(start, end) == h
    assert cal.business_hours_between(cal.next_opening(start), end) == h


@settings(max_examples=200, deadline=None)
@given(cal=CALENDARS, start=STARTS, hours=HOURS)
def test_result_is_business_time_or_closing(
    cal: BusinessCalendar, start: datetime, hours: float
) -> None:
    end = cal.add_business_hours(start, hours)
    assert end.tzinfo is cal.tz
    assert end >= start
    local = end.astimezone(cal.tz)
    assert cal.is_business_day(local.date())
    assert cal.day_start <= local.time() <= cal.day_end


@settings(max_examples=200, deadline=None)
@given(cal=CALENDARS, start=STARTS, a=HOURS, b=st.floats(min_value=0.001, max_value=50))
def test_add_is_additive(cal: BusinessCalendar, start: datetime, a: float, b: float) -> None:
    """Adding a then b (b > 0) equals adding a + b; with b == 0 the first result may sit at
    closing time while the second call starts counting at the next opening."""
    first, second = timedelta(hours=a), timedelta(hours=b)
    assert cal.add_business_hours(cal.add_business_hours(start, first), second) == (
        cal.add_business_hours(start, first + second)
    )
    assert cal.add_business_hours(start, first) <= cal.add_business_hours(start, first + second)
