"""Export the APPI records of provision and receipt as CSV."""

import getpass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from agencies.models import Agency
from audit.context import Actor
from csvexport import write_csv
from relay.provision import CODED, LAYOUTS, ProvisionQuery
from relay.services.exports import provision_records_export


def _day(value: str) -> datetime:
    try:
        return timezone.make_aware(datetime.combine(datetime.fromisoformat(value).date(), time()))
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _operator() -> Actor:
    """The command runs as the system, labelled with the operating-system account running it."""
    try:
        account = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no USER/LOGNAME (some containers)
        account = "unknown"
    return Actor.system(f"export_provision_records (os user: {account})")


class Command(BaseCommand):
    help = (
        "Write the records of provision and receipt (APPI Art. 29/30) for a period as CSV: "
        "every sent handoff, by provider and recipient. --sheet gives one person's records. "
        "--output writes a file for people (UTF-8 with BOM, for Excel); stdout has no BOM, "
        "for programs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--agency", help="agency slug: its provisions and receipts")
        parser.add_argument("--sheet", type=int, help="one subject's sheet id")
        parser.add_argument(
            "--layout",
            choices=sorted(LAYOUTS),
            default=CODED.name,
            help="coded: stable codes for programs (default); labelled: the supervisor "
            "screen's columns, in Japanese",
        )
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
        export = provision_records_export(
            query=query, actor=_operator(), layout=LAYOUTS[options["layout"]]
        )
        if options["output"]:
            with options["output"].open("w", encoding="utf-8", newline="") as out:
                write_csv(out, export.header, export.rows)
        else:
            write_csv(self.stdout, export.header, export.rows, bom=False)  # type: ignore[arg-type]
        self.stderr.write(f"{export.count} record(s) written")
