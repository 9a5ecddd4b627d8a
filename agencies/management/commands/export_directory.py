"""Export the agency directory (Open Referral HSDS 3.0 organizations, as JSON)."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from agencies.hsds import directory_queryset, export_organizations


class Command(BaseCommand):
    help = (
        "Export every agency with its services, location, phones and schedules as Open "
        "Referral HSDS 3.0 organizations (a JSON list). import_agencies reads the file back."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["hsds"], default="hsds")
        parser.add_argument(
            "--output", type=Path, help="write to this file (default: standard output)"
        )
        parser.add_argument(
            "--public",
            action="store_true",
            help="leave out what only this installation uses (intake e-mail, sign-off rule)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organizations = export_organizations(
            directory_queryset(), include_internal=not options["public"]
        )
        text = json.dumps(organizations, ensure_ascii=False, indent=2) + "\n"
        output: Path | None = options["output"]
        if output is None:
            self.stdout.write(text, ending="")
        else:
            output.write_text(text, encoding="utf-8")
            self.stderr.write(f"{len(organizations)} organizations written to {output}")
