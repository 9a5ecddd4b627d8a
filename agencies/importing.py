"""Importing agency directories (our JSON fixture, CSV/TSV, .xlsx, or an Open Referral HSDS
flat export; files are read by agencies/import_files.py).

Every row is validated first, through the model's own field rules plus the importer's (NUL
characters, text lengths), and every problem is reported as row / field / reason, never as a
traceback. A file with a bad row imports nothing unless the caller asks to skip invalid rows.
Rows of one slug are one agency (an HSDS export lists one service a row) only if they agree;
two different agencies under one slug are an error. A slug already in the directory is an
error unless the caller asks to update. Writing is batched (bulk inserts and updates of
BATCH_SIZE rows) inside one transaction: 50,000 rows import in seconds, all or nothing.
"""

from __future__ import annotations

from pathlib import Path

from agencies.import_files import ImportFileError, read_rows
from agencies.import_records import AgencyRecord, ImportResult, RowError
from agencies.import_validation import validate_row, validate_rows
from agencies.import_writer import (
    BATCH_SIZE,
    Progress,
    apply_records,
    ensure_categories,
    existing_slugs,
)

__all__ = [
    "AgencyRecord",
    "ImportFileError",
    "ImportResult",
    "RowError",
    "apply_records",
    "ensure_categories",
    "import_file",
    "read_rows",
    "validate_row",
    "validate_rows",
]


def import_file(
    path: Path,
    *,
    skip_invalid: bool = False,
    update: bool = False,
    encoding: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate the whole file, then import it all, or nothing if a row is bad (unless
    `skip_invalid`). Agencies already in the directory are updated only with `update`.
    Raises agencies.import_files.ImportFileError for a file that cannot be read at all."""
    source = read_rows(path, encoding=encoding)

    def row_progress(row_no: int) -> None:
        if progress and row_no % BATCH_SIZE == 0:
            progress("validate", row_no, max(source.estimated_rows, row_no))

    records, errors, bad_rows = validate_rows(source.rows, row_progress)
    if not update:
        known = existing_slugs([r.slug for r in records])
        for record in [r for r in records if r.slug in known]:
            errors.append(
                RowError(
                    record.rows[0],
                    "slug",
                    f"{record.slug!r} is already in the directory (use --update to update it)",
                )
            )
            bad_rows += len(record.rows)
        records = [r for r in records if r.slug not in known]
        errors.sort(key=lambda e: e.row)
    if errors and not skip_invalid:
        return ImportResult(errors=errors, encoding=source.encoding)
    result = apply_records(records, progress)
    result.errors = errors
    result.skipped_rows = bad_rows
    result.encoding = source.encoding
    return result
