"""Issue an API key for an agency's partner system; the key is printed once, on stdout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from agencies.models import Agency
from api.keys import api_key_create
from api.scopes import ALL_SCOPES, UnknownScope
from audit.context import Actor


class Command(BaseCommand):
    help = (
        "Issue an API key: create_api_key AGENCY_SLUG --name NAME --scopes a,b "
        "[--expires-days N]. The key goes to stdout, alone, and is not shown again; "
        f"scopes: {', '.join(sorted(ALL_SCOPES))}."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("agency_slug")
        parser.add_argument("--name", required=True, help="what the key is for")
        parser.add_argument("--scopes", required=True, help="comma-separated scopes")
        parser.add_argument("--expires-days", type=int, default=None, help="days until expiry")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = Agency.objects.filter(slug=options["agency_slug"]).first()
        if agency is None:
            raise CommandError(f"no agency with slug {options['agency_slug']!r}")
        expires_days = options["expires_days"]
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            key, plaintext = api_key_create(
                agency=agency,
                name=options["name"],
                scopes=options["scopes"].split(","),
                expires_at=expires_at,
                created_by=None,
                actor=Actor.system("manage.py create_api_key"),
            )
        except (UnknownScope, ValueError) as error:
            raise CommandError(str(error)) from None
        # The key alone on stdout (so it can be piped into a secret store); the rest to stderr.
        self.stdout.write(plaintext)
        self.stderr.write(
            f"Issued API key tsk_{key.prefix}_… ({key.name}) for {agency.slug} with scopes "
            f"{', '.join(key.scopes)}"
            + (f", expiring {key.expires_at:%Y-%m-%d %H:%M %Z}" if key.expires_at else "")
            + ". Store it now: it is not shown again."
        )
