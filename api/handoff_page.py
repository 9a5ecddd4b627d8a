"""The API's handoff list page on PostgreSQL, at the floor (issue 14, item 1).

What a page of the inbox or outbox costs in Python besides its one indexed query was Django
building and compiling the same statement on every request, and loading ten timestamps a row
through Django's time-zone loader only to write them back as ISO text. Here the statement is
built once per shape (box, how many statuses, updated_since or not, a cursor or not, the page's
length, the time zone) by the selector itself and Django's compiler, with sentinel values in
place of the request's; each request puts its own values where the sentinels were and runs it.
PostgreSQL writes the timestamps directly as the document's text (what DRF writes: ISO 8601 in
the current time zone, microseconds only when there are any, UTC as Z), so the rows come back as
plain text, numbers and the sections' JSON.

The statement is the selector's (`handoffs_inbox_for` / `handoffs_outbox_for` with
`annotated=False`): same filters, same order, same index; tests/api/test_handoff_page.py checks
it returns the rows and the document of the queryset path. A list with `q` or `grade` (their
annotation subqueries), and SQLite, take that queryset path (api.handoffs._list_rows).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, DateTimeField, F, Func, JSONField
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from agencies.models import Agency
from api.handoff_serializers import HANDOFF_COLUMNS, Row
from api.pagination import keyset_after
from relay import selectors
from relay.models import Handoff

# Sentinels: values no request carries, each findable among the compiled statement's parameters
# (within the integer columns' range: Django turns an out-of-range lookup into no query at all).
_AGENCY = 2_147_480_001
_KEY_INT = 2_147_480_002
_SINCE = datetime(1901, 2, 3, 4, 5, 6, 7, tzinfo=UTC)
_KEY_TIME = datetime(1901, 2, 3, 4, 5, 6, 8, tzinfo=UTC)
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-/]+")
_ISO = "'YYYY-MM-DD\"T\"HH24:MI:SS.US'"


def _status(i: int) -> str:
    return f"\u2063status-sentinel-{i}"


def _offset_text(offset: timedelta) -> str:
    """An offset as datetime.isoformat writes it, UTC as Z (as DRF writes it)."""
    if not offset:
        return "Z"
    return datetime(2000, 1, 1, tzinfo=timezone.get_fixed_timezone(offset)).isoformat()[19:]


@lru_cache(maxsize=16)
def _fixed_span(tz: tzinfo) -> tuple[datetime, datetime, timedelta]:
    """The span around now in which `tz` keeps today's offset (probed a day apart, 1970 to
    2100), and the offset: timestamps in it take a constant offset in SQL; any other goes the
    general way (a second AT TIME ZONE and the difference, about twice the cost)."""
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    offset = now.astimezone(tz).utcoffset() or timedelta(0)
    day = timedelta(days=1)
    low = now
    while low - day >= datetime(1970, 1, 1, tzinfo=UTC) and (
        (low - day).astimezone(tz).utcoffset() == offset
    ):
        low -= day
    high = now
    while high + day <= datetime(2100, 1, 1, tzinfo=UTC) and (
        (high + day).astimezone(tz).utcoffset() == offset
    ):
        high += day
    return low, high, offset


def iso_text_sql(column: str, tz: tzinfo) -> str:
    """SQL writing the timestamptz `column` (a compiled column reference) as DRF writes it in
    `tz`: 2026-12-03T21:05:07.123456+09:00; no fraction when the microseconds are 0; UTC as Z.
    NULL stays NULL."""
    name = str(tz)
    if not _ZONE_NAME.fullmatch(name):
        raise ValueError(f"unusable time zone name for SQL: {name!r}")
    local = f"({column} AT TIME ZONE '{name}')"
    utc = f"({column} AT TIME ZONE 'UTC')"
    text = f"replace(to_char({local}, {_ISO}), '.000000', '')"
    gap = f"{local} - {utc}"
    general = (
        f"{text} || CASE WHEN {local} = {utc} THEN 'Z' "
        f"WHEN {local} > {utc} THEN '+' || to_char({gap}, "
        f"CASE WHEN extract(second FROM {gap}) = 0 THEN 'HH24:MI' ELSE 'HH24:MI:SS' END) "
        f"ELSE '-' || to_char({utc} - {local}, "
        f"CASE WHEN extract(second FROM {gap}) = 0 THEN 'HH24:MI' ELSE 'HH24:MI:SS' END) END"
    )
    low, high, offset = _fixed_span(tz)
    return (
        f"CASE WHEN {column} >= '{low.isoformat()}' AND {column} < '{high.isoformat()}' "
        f"THEN {text} || '{_offset_text(offset)}' ELSE {general} END"
    )


class IsoText(Func):
    """A timestamptz column as the document's ISO text, written by PostgreSQL."""

    output_field = CharField()

    def __init__(self, column: str, tz: tzinfo) -> None:
        super().__init__(F(column))
        self.tz = tz

    def as_sql(  # type: ignore[override]  # Func's signature takes template options we do not
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        if params:
            raise ValueError("IsoText reads a column, not an expression with parameters")
        return iso_text_sql(column, self.tz), []


@dataclass(frozen=True)
class _Statement:
    sql: str
    # Per parameter: the request's value it takes ("agency", "status:0", "since", "key:1"),
    # or None for a constant of the statement, kept as compiled.
    slots: tuple[str | None, ...]
    constants: tuple[Any, ...]
    names: tuple[str, ...]  # the row's keys, in the statement's column order
    json_columns: tuple[int, ...]  # positions whose text is JSON (the sections)
    order_by: tuple[str, ...]  # the selector's order ("-sent_at", "-id"): the cursor's keys


_SELECTORS = {"inbox": selectors.handoffs_inbox_for, "outbox": selectors.handoffs_outbox_for}


def _is_time(column: str) -> bool:
    return isinstance(Handoff._meta.get_field(column), DateTimeField)


def _key_sentinel(field: str) -> Any:
    return _KEY_TIME if _is_time(field) else _KEY_INT


@lru_cache(maxsize=256)
def _statement(
    box: str, statuses: int, since: bool, cursor: bool, limit: int, tz: tzinfo, alias: str
) -> _Statement:
    selector = _SELECTORS[box]
    rows = selector(
        agency=Agency(pk=_AGENCY),
        statuses=[_status(i) for i in range(statuses)] or None,
        updated_since=_SINCE if since else None,
        annotated=False,
    )
    order_by = tuple(str(f) for f in rows.query.order_by)
    ordering = [(f.lstrip("-"), f.startswith("-")) for f in order_by]
    keys = [field for field, _descending in ordering]
    if cursor:
        rows = rows.filter(keyset_after(ordering, [_key_sentinel(f) for f in keys]))
    times = [c for c in HANDOFF_COLUMNS if "__" not in c and _is_time(c)]
    plain = [c for c in dict.fromkeys([*HANDOFF_COLUMNS, *keys]) if c not in times]
    page = rows.select_related(None).values(*plain, **{f"iso_{c}": IsoText(c, tz) for c in times})[
        :limit
    ]
    query = page.query
    compiler = query.get_compiler(alias)
    sql, params = compiler.as_sql()
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    renamed = tuple(n.removeprefix("iso_") if n.startswith("iso_") else n for n in names)
    json_columns = []
    for position, (converters, expression) in compiler.get_converters(
        [column for column, _sql, _alias in compiler.select]
    ).items():
        if not isinstance(expression.output_field, JSONField):
            raise TypeError(f"no plain reading for {renamed[position]}: {converters}")
        json_columns.append(position)
    sentinels: dict[Any, str] = {_AGENCY: "agency", _SINCE: "since"}
    sentinels.update({_status(i): f"status:{i}" for i in range(statuses)})
    if cursor:
        sentinels.update({_key_sentinel(f): f"key:{i}" for i, f in enumerate(keys)})
    slots = tuple(sentinels.get(p) if type(p) in (int, str, datetime) else None for p in params)
    missing = set(sentinels.values()) - set(slots) - ({"since"} if not since else set())
    if missing:
        raise RuntimeError(f"the compiled page lost its parameters: {sorted(missing)}")
    return _Statement(
        sql=sql,
        slots=slots,
        constants=tuple(params),
        names=renamed,
        json_columns=tuple(json_columns),
        order_by=order_by,
    )


def _values(
    agency_id: int, statuses: Sequence[str], since: datetime | None, after: Sequence[Any] | None
) -> dict[str, Any]:
    values: dict[str, Any] = {"agency": agency_id, "since": since}
    values.update({f"status:{i}": s for i, s in enumerate(statuses)})
    values.update({f"key:{i}": v for i, v in enumerate(after or ())})
    return values


def page_order(box: str) -> tuple[str, ...]:
    """The selector's order for `box` (its fields are the cursor's keys)."""
    return _statement(
        box, 0, False, False, 1, timezone.get_current_timezone(), DEFAULT_DB_ALIAS
    ).order_by


def handoff_page_rows(
    *,
    box: str,
    agency_id: int,
    statuses: Sequence[str] | None,
    updated_since: datetime | None,
    after: Sequence[Any] | None,
    limit: int,
    using: str = DEFAULT_DB_ALIAS,
) -> list[Row]:
    """Up to `limit` rows of the agency's `box` after the cursor's key values `after` (None:
    from the start), each a dict of HANDOFF_COLUMNS with the timestamps already as the
    document's text. PostgreSQL only; one statement."""
    statement = _statement(
        box,
        len(statuses or ()),
        updated_since is not None,
        after is not None,
        limit,
        timezone.get_current_timezone(),
        using,
    )
    values = _values(agency_id, statuses or (), updated_since, after)
    params = [
        constant if slot is None else values[slot]
        for slot, constant in zip(statement.slots, statement.constants, strict=True)
    ]
    with connections[using].cursor() as cursor:
        cursor.execute(statement.sql, params)
        fetched = cursor.fetchall()
    names, loads = statement.names, json.loads
    rows = [dict(zip(names, row, strict=True)) for row in fetched]
    for position in statement.json_columns:
        name = names[position]
        for row in rows:
            if row[name] is not None:
                row[name] = loads(row[name])
    return rows


def cursor_values(row: Row, order_by: Sequence[str]) -> list[Any]:
    """The cursor's key values of a page's last row (a timestamp back from its text, in UTC:
    the cursor the queryset path writes)."""
    keys = [f.lstrip("-") for f in order_by]
    return [datetime.fromisoformat(row[k]).astimezone(UTC) if _is_time(k) else row[k] for k in keys]


def applies(*, filters: Any, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether a list takes the prepared page: on PostgreSQL, without q/grade (their
    annotation subqueries stay with the queryset path)."""
    return connections[using].vendor == "postgresql" and not filters
