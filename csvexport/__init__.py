"""The one CSV writer of the project: every CSV Tsunagu writes goes through it.

Two rules hold for every file, whoever exports it:

- Formula injection (CSV injection) is neutralised: a cell that begins with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return is prefixed with a single quote, as OWASP
  recommends, so a spreadsheet shows the text instead of evaluating it.
- UTF-8 with a byte-order mark, so Excel in Japan opens Japanese text correctly instead of
  reading it as Shift_JIS.

A package of its own, below every app: it imports no app of the project (nor does any app
need another to write a CSV), so the audit app, which imports none of the others, may use it
too. Only ``csv_response`` knows about HTTP.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from django.http import StreamingHttpResponse

BOM = "\ufeff"
FORMULA_LEADERS = ("=", "+", "-", "@", "\t", "\r")

Row = Sequence[Any]


def neutralise(value: Any) -> str:
    """The cell as text, prefixed with ' if a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_LEADERS):
        return "'" + text
    return text


class _Line:
    """A file-like object whose write returns the line: csv.writer then yields strings."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Row, rows: Iterable[Row], *, bom: bool = True) -> Iterator[str]:
    """The CSV text line by line (header first), every cell neutralised."""
    writer = csv.writer(_Line())
    if bom:
        yield BOM
    yield writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])


def write_csv(out: TextIO, header: Row, rows: Iterable[Row], *, bom: bool = True) -> int:
    """Write a whole CSV to a text stream; returns the number of rows after the header.

    ``bom=False`` only for a stream read by programs (a pipe), never for a file people open.
    """
    lines = csv_lines(header, rows, bom=bom)
    if bom:
        out.write(next(lines))
    out.write(next(lines))  # the header
    count = 0
    for line in lines:
        out.write(line)
        count += 1
    return count


def csv_response(filename: str, header: Row, rows: Iterable[Row]) -> StreamingHttpResponse:
    """A CSV download for people: streamed, private, never sniffed as HTML."""
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
