"""Keyset (cursor) pagination over a queryset's own order: one indexed range query per page.

DRF's CursorPagination keys on the first ordering field and skips ties with an OFFSET, so a
deep page in a list with equal timestamps rescans; this paginator keys on every ordering field
(for the inbox: sent_at, id), so page 1,000 costs what page 1 costs. The queryset must be
ordered (the selectors are) by fields that end in a unique one (id) and are never null.

The cursor is opaque to clients: base64url of the last row's ordering values, as JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Model, Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from api.language import bilingual

MAX_CURSOR_LENGTH = 512
# base64url without padding: anything else is refused before decoding.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"
_CURSOR_RE = re.compile(CURSOR_PATTERN)


def _encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime | date) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid_cursor() -> ValidationError:
    return ValidationError(
        {"cursor": [bilingual("カーソルが正しくありません。", "The cursor is not valid.")]},
        code="invalid_cursor",
    )


def _concrete_field(model: type[Model], name: str) -> Field[Any, Any]:
    """An ordering column of `model` (orderings are on the model's own columns)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


def _decode(cursor: str, model: type[Model], fields: list[str]) -> list[Any]:
    if len(cursor) > MAX_CURSOR_LENGTH or not _CURSOR_RE.fullmatch(cursor):
        raise _invalid_cursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _invalid_cursor() from None
    if not isinstance(values, list) or len(values) != len(fields):
        raise _invalid_cursor()
    try:
        parsed = [
            _concrete_field(model, f).to_python(v) for f, v in zip(fields, values, strict=True)
        ]
    except (DjangoValidationError, TypeError, ValueError):
        raise _invalid_cursor() from None
    if any(v is None or isinstance(v, dict | list) for v in parsed):
        raise _invalid_cursor()
    return parsed


def keyset_after(ordering: list[tuple[str, bool]], values: list[Any]) -> Q:
    """Rows strictly after `values` in `ordering` (field, descending), lexicographically."""
    condition = Q()
    equal = Q()
    for (field, descending), value in zip(ordering, values, strict=True):
        condition |= equal & Q(**{f"{field}__{'lt' if descending else 'gt'}": value})
        equal &= Q(**{field: value})
    # The same bound on the first field alone lets the index range start at the cursor.
    first, descending = ordering[0]
    return Q(**{f"{first}__{'lte' if descending else 'gte'}": values[0]}) & condition


class KeysetPagination(BasePagination):
    """`?cursor=...&page_size=N`; answers {"next": url or null, "results": [...]}."""

    page_size = 50
    max_page_size = 100
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def __init__(self) -> None:
        self.next_cursor: str | None = None
        self.request: Request | None = None

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        bilingual(
                            f"1〜{self.max_page_size}の整数を指定してください。",
                            f"Give an integer from 1 to {self.max_page_size}.",
                        )
                    ]
                }
            )
        return int(raw)

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any] | Sequence[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        if not isinstance(queryset, QuerySet):
            raise TypeError("KeysetPagination pages a queryset, not a list")
        order_by = [f for f in queryset.query.order_by if isinstance(f, str)]
        if len(order_by) != len(queryset.query.order_by):
            raise TypeError("KeysetPagination orders by field names, not expressions")
        ordering = [(f.lstrip("-"), f.startswith("-")) for f in order_by]
        if not ordering:
            raise TypeError("KeysetPagination needs an explicitly ordered queryset")
        fields = [f for f, _descending in ordering]
        size = self._page_size(request)
        cursor = request.query_params.get(self.cursor_query_param)
        if cursor:  # empty is the first page (the schema's pattern allows it)
            queryset = queryset.filter(
                keyset_after(ordering, _decode(cursor, queryset.model, fields))
            )
        rows = list(queryset[: size + 1])
        self.next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            last = rows[-1]  # a model instance, or a dict of a values() query
            self.next_cursor = _encode(
                [last[f] if isinstance(last, dict) else getattr(last, f) for f in fields]
            )
        return rows

    def paginate_fetched(
        self,
        request: Request,
        *,
        model: type[Model],
        order_by: Sequence[str],
        fetch: Callable[[list[Any] | None, int], list[Any]],
        key: Callable[[Any], list[Any]],
    ) -> list[Any]:
        """The same page, cursor and `next` as paginate_queryset, from a prepared statement:
        `fetch(after, limit)` gives up to `limit` rows in `order_by` after the key values
        `after` (None: from the start); `key(row)` gives a row's key values, as a queryset's
        row would hold them (they make the cursor)."""
        self.request = request
        fields = [f.lstrip("-") for f in order_by]
        size = self._page_size(request)
        cursor = request.query_params.get(self.cursor_query_param)
        after = _decode(cursor, model, fields) if cursor else None
        rows = fetch(after, size + 1)
        self.next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            self.next_cursor = _encode(key(rows[-1]))
        return rows

    def get_next_link(self) -> str | None:
        if self.next_cursor is None or self.request is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self.next_cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next page, or null on the last page.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from `next` of the previous page.",
                "schema": {
                    "type": "string",
                    "maxLength": MAX_CURSOR_LENGTH,
                    "pattern": CURSOR_PATTERN,
                },
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
