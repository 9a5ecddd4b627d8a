"""Business time moved to duework.business_time (below relay, so the due-work engine can
count deadlines); this module re-exports it for the relay code and tests that name it."""

from duework.business_time import (
    MAX_SCAN_DAYS,
    TOKYO,
    BusinessCalendar,
    _jp_holidays,
    default_calendar,
    holidays,
)

__all__ = [
    "MAX_SCAN_DAYS",
    "TOKYO",
    "BusinessCalendar",
    "_jp_holidays",
    "default_calendar",
    "holidays",
]
