"""Import a directory of agencies from CSV/TSV (UTF-8 or CP932), JSON or Excel (.xlsx)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agencies.import_progress import ProgressBar
from agencies.importing import ImportFileError, import_file


class Command(BaseCommand):
    help = (
        "Import agencies from a CSV/TSV (UTF-8 with or without BOM, or CP932/Shift_JIS; "
        "detected unless --encoding is given), JSON or .xlsx file, with our column names or "
        "Open Referral HSDS ones. Every row is validated first; a file with a bad row imports "
        "nothing unless --skip-invalid is given. Agencies already in the directory are an "
        "error unless --update is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--skip-invalid", action="store_true", help="import the good rows, report the bad"
        )
        parser.add_argument(
            "--update", action="store_true", help="update agencies whose slug already exists"
        )
        parser.add_argument(
            "--encoding", help="the CSV's encoding (e.g. cp932, utf-8); detected by default"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        bar = None if options["no_progress"] else ProgressBar(self.stderr)
        try:
            result = import_file(
                path,
                skip_invalid=options["skip_invalid"],
                update=options["update"],
                encoding=options["encoding"],
                progress=bar,
            )
        except ImportFileError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        finally:
            if bar is not None:
                bar.close()
        for error in result.errors:
            self.stderr.write(self.style.ERROR(str(error)))
        if result.errors and not options["skip_invalid"]:
            raise CommandError(
                f"{len(result.errors)} error(s); nothing imported (use --skip-invalid to import "
                "the valid rows)"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"read as {result.encoding}; agencies created: {result.created}, "
                f"updated: {result.updated}, services: {result.services}, "
                f"rows skipped: {result.skipped_rows}"
            )
        )
