"""Reading a directory file into rows: CSV/TSV in UTF-8 (with or without BOM) or CP932, JSON,
and Excel workbooks (.xlsx, the first sheet, first row as headers).

Excel in Japan saves "CSV" as CP932 (Windows' Shift_JIS, with NEC and IBM extensions such as
①, 髙 and 﨑, which plain Shift_JIS lacks); the encoding is detected unless given. A file that
is neither is refused with a hint, never decoded into mojibake.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from agencies import hsds

# A cell past this is refused by the CSV reader (the row's fields are then checked against
# their own, much smaller, limits; this one only bounds what the reader holds).
MAX_CELL_CHARACTERS = 1_000_000
SUFFIXES = (".csv", ".tsv", ".json", ".xlsx")
_SUSPICIOUS = re.compile("[\u0080-\u009f\ue000-\uf8ff]")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (type, encoding, structure); says how to fix it."""


@dataclass
class SourceRows:
    """The rows of a file, how it was decoded, and about how many rows there are."""

    rows: Iterator[dict[str, Any]]
    encoding: str
    estimated_rows: int


def detect_encoding(data: bytes) -> str:
    """ "utf-8-sig" (BOM), "utf-8", or "cp932"; raise if the bytes are none of them."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        text = None
    # Python's cp932 maps a few unassigned bytes to control and private-use characters; a
    # file that needs them is some other encoding (EUC-JP, say), read as mojibake.
    if text is None or _SUSPICIOUS.search(text):
        raise ImportFileError(
            "the file is neither UTF-8 nor CP932 (Shift_JIS); save it as UTF-8, "
            "or name its encoding with --encoding"
        )
    return "cp932"


def _decode(data: bytes, encoding: str | None) -> tuple[str, str]:
    chosen = encoding or detect_encoding(data)
    try:
        return data.decode(chosen), chosen
    except LookupError:
        raise ImportFileError(f"unknown encoding {chosen!r}") from None
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"the file is not valid {chosen} (byte {exc.start}); check --encoding"
        ) from None


def _csv_rows(text: str, delimiter: str) -> Iterator[dict[str, Any]]:
    csv.field_size_limit(MAX_CELL_CHARACTERS)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    done = 0
    try:
        for row in reader:
            done += 1
            yield row
    except csv.Error as exc:  # numbered as the importer numbers rows (1 = first data row)
        raise ImportFileError(f"row {done + 1}: {exc}") from None


def _xlsx_rows(path: Path) -> tuple[Iterator[dict[str, Any]], int]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile/XML errors: not a workbook
        raise ImportFileError(f"not a readable .xlsx workbook ({type(exc).__name__})") from None
    sheet = workbook.worksheets[0]

    def rows() -> Iterator[dict[str, Any]]:
        try:
            values = sheet.iter_rows(values_only=True)
            header = [str(h).strip() if h is not None else "" for h in next(values, ())]
            for row in values:
                if row is None or all(cell is None for cell in row):
                    continue
                yield {
                    name: ("" if cell is None else cell)
                    for name, cell in zip(header, row, strict=False)
                    if name
                }
        finally:
            workbook.close()

    return rows(), max((sheet.max_row or 1) - 1, 0)


def read_rows(path: Path, *, encoding: str | None = None) -> SourceRows:
    """The rows of a .csv/.tsv (encoding detected unless given), .json or .xlsx file."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportFileError(f"unsupported file type {suffix!r}: use .csv, .tsv, .json or .xlsx")
    if suffix == ".xlsx":
        rows, estimate = _xlsx_rows(path)
        return SourceRows(rows, "xlsx", estimate)
    text, used = _decode(path.read_bytes(), encoding)
    if suffix == ".json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ImportFileError(f"not valid JSON: {exc}") from None
        if isinstance(data, dict):  # {"organizations": [...]} or {"agencies": [...]}
            data = data.get("agencies") or data.get("organizations") or []
        if not isinstance(data, list):
            raise ImportFileError("JSON must be a list of agency objects")
        # HSDS 3.0 organizations (as agencies/hsds.py exports them) become flat rows.
        records: list[dict[str, Any]] = [
            hsds.flatten_organization(item) if hsds.is_hsds_organization(item) else item
            for item in data
        ]
        return SourceRows(iter(records), used, len(records))
    delimiter = "\t" if suffix == ".tsv" else ","
    return SourceRows(_csv_rows(text, delimiter), used, max(text.count("\n") - 1, 0))
