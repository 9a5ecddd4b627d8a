"""Print the current second-factor code of a demo user (demo mode only).

    manage.py demo_totp adachi-supervisor

The demo's supervisors and admin sign in with a second factor, as everyone in those roles
does; this stands in for their authenticator app. Refused outside demo mode, where it would
be a way around the second factor.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from agencies import twofactor


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo user (embedded/demo mode only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.TSUNAGU["DEMO_ALLOWED"]:
            raise CommandError(
                "demo_totp runs only in demo mode (embedded, or TSUNAGU_DEMO_ALLOWED)."
            )
        user = get_user_model().objects.filter(username=options["username"]).first()
        device = twofactor.confirmed_totp(user) if user is not None else None
        if device is None:
            raise CommandError(f"{options['username']}: no authenticator enrolled")
        self.stdout.write(twofactor.totp_code(device))
