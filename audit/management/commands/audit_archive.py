"""Archive the oldest month of the audit trail past retention (PostgreSQL, as the owner)."""

from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.archive import ArchiveError, archive_month, verify_export


def _month(text: str) -> date:
    try:
        return date.fromisoformat(f"{text}-01")
    except ValueError as exc:
        raise CommandError(f"--month must be YYYY-MM, not {text!r}") from exc


class Command(BaseCommand):
    help = (
        "Export a month of the audit trail to a signed, verifiable file and detach its "
        "partition (run as the owner; nothing is deleted), or --check an exported file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="the month to archive, YYYY-MM (the oldest one)")
        parser.add_argument(
            "--to",
            type=Path,
            default=None,
            help="directory for the export (default AUDIT_ARCHIVE_PATH)",
        )
        parser.add_argument("--check", type=Path, help="verify an exported file against its record")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["check"]:
                count = verify_export(options["check"])
                name = options["check"].name
                self.stdout.write(self.style.SUCCESS(f"{name}: {count} events verify"))
                return
            if not options["month"]:
                raise CommandError("give --month YYYY-MM or --check FILE")
            directory = options["to"] or Path(settings.AUDIT_ARCHIVE_PATH)
            done = archive_month(_month(options["month"]), directory)
        except ArchiveError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{done.month:%Y-%m}: {done.count} events to {done.path} (sha256 {done.sha256}); "
                f"partition {done.partition} detached: drop it once the file is stored"
            )
        )
