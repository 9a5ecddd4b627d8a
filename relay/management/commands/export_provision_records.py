"""Export the APPI records of provision and receipt as CSV."""

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from agencies.models import Agency
from audit.context import Actor
from relay.provision import ProvisionQuery, export_provision_records


def _day(value: str) -> datetime:
    try:
        return timezone.make_aware(datetime.combine(datetime.fromisoformat(value).date(), time()))
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Write the records of provision and receipt (APPI Art. 29/30) for a period as CSV: "
        "every sent handoff, by provider and recipient. --sheet gives one person's records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--agency", help="agency slug: its provisions and receipts")
        parser.add_argument("--sheet", type=int, help="one subject's sheet id")
        parser.add_argument("--output", type=Path, help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = _day(options["start"]), _day(options["end"]) + timedelta(days=1)
        if end <= start:
            raise CommandError("--to must not be before --from")
        agency = None
        if options["agency"]:
            agency = Agency.objects.filter(slug=options["agency"]).first()
            if agency is None:
                raise CommandError(f"no agency with slug {options['agency']!r}")
        query = ProvisionQuery(start=start, end=end, agency=agency, sheet_id=options["sheet"])
        actor = Actor.system("export_provision_records")
        if options["output"]:
            with options["output"].open("w", encoding="utf-8", newline="") as out:
                count = export_provision_records(query=query, out=out, actor=actor)
        else:
            count = export_provision_records(query=query, out=self.stdout, actor=actor)  # type: ignore[arg-type]
        self.stderr.write(f"{count} record(s) written")
