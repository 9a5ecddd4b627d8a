"""Import a directory of agencies from CSV/TSV/JSON (our columns or Open Referral HSDS names)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agencies.importing import import_file

PROGRESS_EVERY = 500


class Command(BaseCommand):
    help = (
        "Import agencies from a CSV, TSV or JSON file. Every row is validated first; a file "
        "with a bad row imports nothing unless --skip-invalid is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--skip-invalid", action="store_true", help="import the good rows, report the bad"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")

        def progress(row_no: int) -> None:
            if row_no % PROGRESS_EVERY == 0:
                self.stderr.write(f"  ... {row_no} rows validated")

        try:
            result = import_file(path, skip_invalid=options["skip_invalid"], progress=progress)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        for error in result.errors:
            self.stderr.write(self.style.ERROR(str(error)))
        if result.errors and not options["skip_invalid"]:
            raise CommandError(
                f"{len(result.errors)} error(s); nothing imported (use --skip-invalid to import "
                "the valid rows)"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"agencies created: {result.created}, updated: {result.updated}, "
                f"services: {result.services}, rows skipped: {result.skipped_rows}"
            )
        )
