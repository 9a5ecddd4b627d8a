"""One UPDATE for many rows that each move to their own (level, next time): the sweep's clocks
(duework.services) and the columns that mirror them on a subject (the hops' escalation
columns, relay.services.escalations). Imports nothing of the apps, so any of them can use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models
from psycopg.types.datetime import TimestamptzLoader

Row = tuple[int, int, datetime | None]  # (id, level, next time)
_TIMESTAMPTZ_OID = 1184


def fetch_rows(queryset: models.QuerySet[Any, Any]) -> list[tuple[Any, ...]]:
    """The rows of a values_list() queryset, read through one cursor that loads timestamptz
    values with psycopg's own loader (C, in psycopg-binary) instead of Django's time-zone
    loader (a Python subclass of it, several microseconds a value): the same instants, aware,
    in UTC. Django's converters are not applied, so only for columns that need none (numbers,
    text, booleans, timestamps; JSON cast to text). For reads of many rows: the sweep's."""
    if connection.vendor != "postgresql":
        return list(queryset)
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader(_TIMESTAMPTZ_OID, TimestamptzLoader)
        cursor.execute(sql, params)
        return cursor.fetchall()


def update_levels(
    model: type[models.Model],
    rows: Sequence[Row],
    *,
    level: str,
    next_at: str,
    values: Mapping[str, Any],
    increment: Iterable[str] = (),
) -> None:
    """Set each row's `level` and `next_at` fields to its own, `values` (field: value) to the
    same for all, and count each `increment` field up by one. On PostgreSQL one statement
    (UPDATE ... FROM unnest of the three columns); elsewhere one ORM update per distinct
    (level, next time)."""
    if not rows:
        return
    counted = list(increment)
    if connection.vendor != "postgresql":
        groups: dict[tuple[int, datetime | None], list[int]] = {}
        for pk, row_level, row_next in rows:
            groups.setdefault((row_level, row_next), []).append(pk)
        for (row_level, row_next), pks in groups.items():
            model._default_manager.filter(pk__in=pks).update(
                **{level: row_level, next_at: row_next},
                **values,
                **{name: models.F(name) + 1 for name in counted},
            )
        return
    meta = model._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        field = meta.pk if name == "pk" else meta.get_field(name)
        if not isinstance(field, models.Field) or not field.column:
            raise TypeError(f"{meta.label}.{name} is not a column")
        return quote(field.column)

    assignments = [f"{column(level)} = v.level", f"{column(next_at)} = v.next_at"]
    assignments += [f"{column(name)} = %s" for name in values]
    assignments += [f"{column(name)} = t.{column(name)} + 1" for name in counted]
    # The rows of a batch share a handful of next times (one per policy and level): each is
    # sent once and the rows name theirs by position (0, past the end, is NULL).
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {', '.join(assignments)} "  # noqa: S608
        "FROM (SELECT u.id, u.level, (%s::timestamptz[])[u.i] AS next_at "
        "FROM unnest(%s::bigint[], %s::smallint[], %s::int[]) AS u(id, level, i)) AS v "
        f"WHERE t.{column('pk')} = v.id"
    )
    times: dict[datetime, int] = {}
    ids, levels, positions = [], [], []
    for pk, row_level, row_next in rows:
        ids.append(pk)
        levels.append(row_level)
        positions.append(0 if row_next is None else times.setdefault(row_next, len(times) + 1))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values.values(), list(times), ids, levels, positions])
