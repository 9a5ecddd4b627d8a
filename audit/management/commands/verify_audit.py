"""Walk the audit chain and report the first broken link."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_verify


class Command(BaseCommand):
    help = "Verify the hash chain of the audit trail; exits non-zero at the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        count, broken = audit_verify()
        if broken is not None:
            raise CommandError(
                f"audit chain broken at event {broken.event_id}: {broken.reason} "
                f"({count} events verified before it)"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {count} events verified"))
