"""Sign a checkpoint of the audit chains now (beat does it every 5 minutes)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.anchors import anchor_dir
from audit.verification import checkpoint


class Command(BaseCommand):
    help = (
        "Verify the new audit events, then sign every chain's head into the database and "
        "append it to AUDIT_ANCHOR_PATH (and syslog when configured)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report, anchor = checkpoint()
        if anchor is None:
            raise CommandError(f"not anchored: the chain does not verify ({report.reason})")
        self.stdout.write(
            self.style.SUCCESS(
                f"anchor #{anchor.pk}: {anchor.count} events, last id {anchor.last_id}, "
                f"written to {anchor_dir()}"
            )
        )
