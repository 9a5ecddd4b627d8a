"""What an import reads and reports: a row's error, a validated agency, the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RowError:
    """Why a row of the file cannot be imported: row number (1 = first data row), field, reason."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


@dataclass
class AgencyRecord:
    """One validated agency, with the services gathered from its rows."""

    slug: str
    fields: dict[str, Any]
    categories: list[str]
    services: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)


@dataclass
class ImportResult:
    """What an import did, or (errors set, nothing written) why it did nothing."""

    created: int = 0
    updated: int = 0
    services: int = 0
    skipped_rows: int = 0
    encoding: str = ""
    errors: list[RowError] = field(default_factory=list)
