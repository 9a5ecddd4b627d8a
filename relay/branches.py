"""A list read as the union of branches, newest or oldest first by id, never by OFFSET.

The audit page (relay.views.base.keyset_page) and the audit CSV export (relay.services.
exports) read the same branches (relay.reports.audit_event_branches) the same way: each branch
is a queryset ordered by an index on (..., id), and every read takes the next few rows of each
branch from a cursor id and merges them, so its cost is what it returns, not the table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db.models import QuerySet


class Branches:
    """A list read as the union of branches (querysets of one model, each ordered by an index
    on (..., id)): every filter applies to each branch, and a page takes the newest rows of
    each and merges them by id, so no branch is ever scanned past the page. One branch is a
    plain queryset."""

    def __init__(self, parts: Sequence[QuerySet[Any]]) -> None:
        self.parts = list(parts)

    def filter(self, *args: Any, **kwargs: Any) -> Branches:
        return Branches([part.filter(*args, **kwargs) for part in self.parts])

    def newest(self, limit: int) -> list[Any]:
        return self._merge([p.order_by("-id")[:limit] for p in self.parts], limit, newest=True)

    def oldest(self, limit: int) -> list[Any]:
        return self._merge([p.order_by("id")[:limit] for p in self.parts], limit, newest=False)

    @staticmethod
    def _merge(slices: list[QuerySet[Any]], limit: int, *, newest: bool) -> list[Any]:
        rows = {row.pk: row for part in slices for row in part}
        return [rows[pk] for pk in sorted(rows, reverse=newest)[:limit]]

    def exists(self) -> bool:
        return any(part.exists() for part in self.parts)

    def count_upto(self, cap: int) -> int:
        ids: set[int] = set()
        for part in self.parts:
            ids.update(part.order_by("-id").values_list("id", flat=True)[:cap])
        return len(ids)

    def ascending(self, chunk: int) -> Iterator[list[Any]]:
        """Every row, oldest first, `chunk` rows at a time: each chunk reads at most `chunk`
        rows of each branch past the last id of the chunk before (constant memory)."""
        window = self
        while rows := window.oldest(chunk):
            yield rows
            if len(rows) < chunk:
                return
            window = self.filter(id__gt=rows[-1].pk)

    def count(self) -> int:
        """How many distinct rows the branches hold: one UNION of their ids, each branch
        read through its own index."""
        ids = [part.order_by().values("id") for part in self.parts]
        if len(ids) == 1:
            return ids[0].count()
        return ids[0].union(*ids[1:]).count()
