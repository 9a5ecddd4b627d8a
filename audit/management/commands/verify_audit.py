"""Verify the audit chains against the newest external anchor; report the first broken link."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.verification import verify


class Command(BaseCommand):
    help = (
        "Verify the audit chains (incrementally from the last verified heads; --full walks "
        "every event) and check them against the newest signed anchor outside the database. "
        "Exits non-zero at the first missing or differing event."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--full", action="store_true", help="walk every event from the first (streams)"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.AUDIT_VERIFY_WORKERS,
            help="processes a full walk splits the events over (PostgreSQL; default "
            "AUDIT_VERIFY_WORKERS, one per core)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify(full=options["full"], workers=max(1, options["workers"]))
        if not report.ok:
            where = f"at event {report.broken_id}: " if report.broken_id is not None else ": "
            raise CommandError(
                f"audit chain broken {where}{report.reason} "
                f"({report.checked} events verified in this run)"
            )
        anchor = report.anchor.label() if report.anchor else "no external anchor yet"
        mode = "full" if report.full else "incremental"
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain intact: {report.count} events verified ({mode}: "
                f"{report.checked} checked in {report.duration_ms} ms; anchor {anchor})"
            )
        )
