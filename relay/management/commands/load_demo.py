"""Load the demo network (real agencies from the seed documents, demo staff). Idempotent."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from relay.demo import DEMO_PASSWORD, load_demo


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
        self.stdout.write(f"demo users (password for all: {DEMO_PASSWORD}):")
        for username, agency, role in result.users:
            self.stdout.write(f"  {username:<22} {role:<10} {agency}")
