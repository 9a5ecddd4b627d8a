"""The one CSV writer: formula cells neutralised, UTF-8 with BOM, Japanese intact."""

from __future__ import annotations

import csv
import io

import pytest

from csvexport import BOM, csv_lines, csv_response, neutralise, write_csv

HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1", "-1", "@x", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_leading_cells_get_a_single_quote(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["A.T", "足立区", "1", "", "a=b", " =x", "#12"])
def test_ordinary_cells_are_unchanged(value: str) -> None:
    assert neutralise(value) == value


def test_none_and_numbers_become_text() -> None:
    assert neutralise(None) == ""
    assert neutralise(12) == "12"
    assert neutralise(-3) == "'-3"  # a negative number is a formula leader too


def _parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_file_has_bom_and_japanese_round_trips() -> None:
    out = io.StringIO(newline="")
    count = write_csv(out, ["機関", "値"], [["足立区福祉まるごと相談課", v] for v in HOSTILE])
    assert count == len(HOSTILE)
    raw = out.getvalue().encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = _parse(raw.decode("utf-8-sig"))
    assert rows[0] == ["機関", "値"]
    assert [r[0] for r in rows[1:]] == ["足立区福祉まるごと相談課"] * len(HOSTILE)
    assert [r[1] for r in rows[1:]] == ["'" + v for v in HOSTILE]


def test_header_cells_are_neutralised_too() -> None:
    rows = _parse("".join(csv_lines(["=cmd"], [], bom=False)))
    assert rows == [["'=cmd"]]


def test_without_bom_for_programs() -> None:
    out = io.StringIO(newline="")
    write_csv(out, ["a"], [["b"]], bom=False)
    assert not out.getvalue().startswith(BOM)
    assert _parse(out.getvalue()) == [["a"], ["b"]]


def test_http_download_is_private_and_not_sniffed() -> None:
    response = csv_response("x.csv", ["列"], [["=1"]])
    body = b"".join(response.streaming_content)  # type: ignore[arg-type]
    assert body.startswith(b"\xef\xbb\xbf")
    assert _parse(body.decode("utf-8-sig")) == [["列"], ["'=1"]]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
