"""Create the audit table's monthly partitions ahead (PostgreSQL, as the owner)."""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from audit import partitions


class Command(BaseCommand):
    help = "Create the audit table's monthly partitions N months ahead (run as the owner)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ahead", type=int, default=24, help="months ahead (default 24)")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql" or not partitions.is_partitioned(connection):
            raise CommandError("the audit table is partitioned on PostgreSQL only")
        today = timezone.now().date()
        created = partitions.ensure(
            connection, first=today, until=today + timedelta(days=31 * options["ahead"])
        )
        self.stdout.write(self.style.SUCCESS(f"{len(created)} partitions created"))
