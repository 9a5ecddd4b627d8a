"""The shape of a case meeting's record (ケース会議記録シート), validated the same way on
every path: unknown keys, wrong types or over-long text are refused naming the field."""

from __future__ import annotations

from typing import Any

from agencies.errors import InvalidInput
from conferences.models import Area, GridColumn

TEXT_FIELDS = ("person_wishes", "guardian_wishes", "goal", "agreements")
MAX_TEXT = 4000


def empty_record() -> dict[str, Any]:
    return {
        **dict.fromkeys(TEXT_FIELDS, ""),
        "grid": {area: dict.fromkeys(GridColumn.values, "") for area in Area.values},
    }


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(field=field)
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{MAX_TEXT}文字以内で入力してください。", field=field)
    return value


def record_clean(content: dict[str, Any]) -> dict[str, Any]:
    """The record as stored: every field present, text stripped; refusal names the field."""
    if not isinstance(content, dict):
        raise InvalidInput(field="record")
    unknown = set(content) - {*TEXT_FIELDS, "grid"}
    if unknown:
        raise InvalidInput(field=sorted(unknown)[0])
    cleaned = empty_record()
    for name in TEXT_FIELDS:
        cleaned[name] = _text(content.get(name), name)
    grid = content.get("grid") or {}
    if not isinstance(grid, dict) or set(grid) - set(Area.values):
        raise InvalidInput(field="grid")
    for area, row in grid.items():
        if not isinstance(row, dict) or set(row) - set(GridColumn.values):
            raise InvalidInput(field=f"grid.{area}")
        for column, value in row.items():
            cleaned["grid"][area][column] = _text(value, f"grid.{area}.{column}")
    return cleaned
