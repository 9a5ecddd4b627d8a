"""Import a 校務支援システム's attendance CSV for one school: all or nothing, unless
--skip-invalid. Errors name the row, the column and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agencies.models import Agency, AgencyKind
from attendance import importing, services
from audit.context import Actor


class Command(BaseCommand):
    help = "Import attendance (出席番号,学年,組,日付,区分,理由) for a school; idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--school", required=True, help="the school agency's slug")
        parser.add_argument("--year", type=int, default=None, help="school year (default: now)")
        parser.add_argument("--skip-invalid", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        school = Agency.objects.filter(slug=options["school"], kind=AgencyKind.SCHOOL).first()
        if school is None:
            raise CommandError(f"no school with slug {options['school']!r}")
        data = Path(options["file"]).read_bytes()
        parsed = importing.parse(data, school=school, school_year=options["year"])
        for error in parsed.errors:
            self.stderr.write(str(error))
        if parsed.errors and not options["skip_invalid"]:
            raise CommandError(f"{len(parsed.errors)} invalid rows; nothing was written")
        result = services.attendance_import(
            school=school,
            entries=parsed.entries,
            actor=Actor.system("import_attendance"),
            user=None,
            rejected=len(parsed.errors),
        )
        self.stdout.write(
            f"created {result.created}, updated {result.updated}, "
            f"unchanged {result.unchanged}, rejected {len(parsed.errors)}"
        )
