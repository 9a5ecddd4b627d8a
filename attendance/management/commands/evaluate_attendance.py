"""manage.py evaluate_attendance [--school SLUG ...] [--year YEAR]: re-evaluate the early-
response rules (what the nightly beat entry runs). Idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from attendance.services import schools_evaluate


class Command(BaseCommand):
    help = "Re-evaluate the early-response rules for every school (or the named ones)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--school", action="append", dest="schools", metavar="SLUG")
        parser.add_argument("--year", type=int, help="school year (default: today's)")

    def handle(self, *args: Any, **options: Any) -> None:
        run = schools_evaluate(school_year=options["year"], slugs=options["schools"])
        self.stdout.write(
            f"school year {run.school_year}: {run.schools} school(s), {run.pupils} pupil(s)"
        )
