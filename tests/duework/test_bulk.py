"""duework.bulk.update_levels: each row moves to its own level and next time in one update
(PostgreSQL: one statement; elsewhere grouped ORM updates), the same on both."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from duework.bulk import update_levels
from duework.business_time import TOKYO
from duework.models import Clock
from tests.factories import AgencyFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 20, 15, 0, tzinfo=TOKYO)


def test_each_row_gets_its_own_level_and_next_time_and_the_others_are_left_alone() -> None:
    """GIVEN four clocks WHEN three are moved on (two to the same level and time, one to its
    own, one to no next time) THEN each has its row's level and next time, the shared values
    and one more firing; the fourth is unchanged."""
    agency = AgencyFactory()

    def clock(key: str) -> Clock:
        return Clock.objects.create(
            kind="test.bulk",
            subject_key=key,
            owner_agency=agency,
            started_at=AT,
            due_at=AT,
            next_fire_at=AT,
            fired_count=2,
        )

    a, b, c, untouched = (clock(k) for k in "abcd")
    later, fired = AT + timedelta(days=1), AT + timedelta(hours=1)

    update_levels(
        Clock,
        [(a.pk, 1, later), (b.pk, 1, later), (c.pk, 3, None)],
        level="level",
        next_at="next_fire_at",
        values={"last_fired_at": fired, "updated_at": fired},
        increment=["fired_count"],
    )

    rows = {
        row["id"]: row
        for row in Clock.objects.values(
            "id", "level", "next_fire_at", "last_fired_at", "fired_count", "updated_at"
        )
    }
    for moved, level, next_at in ((a, 1, later), (b, 1, later), (c, 3, None)):
        assert rows[moved.pk] == {
            "id": moved.pk,
            "level": level,
            "next_fire_at": next_at,
            "last_fired_at": fired,
            "fired_count": 3,
            "updated_at": fired,
        }
    assert rows[untouched.pk]["level"] == 0
    assert rows[untouched.pk]["fired_count"] == 2
    assert rows[untouched.pk]["next_fire_at"] == AT
    assert rows[untouched.pk]["last_fired_at"] is None


def test_no_rows_is_no_query(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        update_levels(Clock, [], level="level", next_at="next_fire_at", values={})
