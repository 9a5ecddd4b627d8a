"""Load the demo network (real agencies from the seed documents, demo staff). Idempotent."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from relay.demo import load_demo, users_table


class Command(BaseCommand):
    help = "Load demo agencies, services and staff (embedded/demo mode only). Safe to re-run."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.TSUNAGU["DEMO_ALLOWED"]:
            raise CommandError(
                "load_demo creates users with a published password; it runs only in embedded "
                "mode (or with TSUNAGU_DEMO_ALLOWED=true)."
            )
        result = load_demo()
        self.stdout.write(
            self.style.SUCCESS(
                f"demo network: {result.agencies} agencies, {result.services} services, "
                f"{result.sheets} new sheets"
            )
        )
        table = users_table(result.users)
        # Kept beside the data: bin/demo prints it again once the services are up, where it
        # does not scroll away under the worker's start-up output.
        users_file = settings.VAR_DIR / "demo-users.txt"
        users_file.write_text(table + "\n", encoding="utf-8")
        self.stdout.write(table)
        self.stdout.write(f"({users_file})")
