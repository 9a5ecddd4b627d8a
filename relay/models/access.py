"""Who may see what: guardian's direct foreign-key permission tables, and the indexed path.

Only relay.access writes these rows. guardian answers single-object checks; SheetAccess
answers lists ("sheets my agency can see") with one indexed query, and says which sections.
"""

from __future__ import annotations

from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from agencies.models import Agency
from relay.models.handoffs import Handoff
from relay.models.sheets import ReferralSheet


class SheetUserObjectPermission(UserObjectPermissionBase):
    """Unused for grants (agencies are groups) but required by guardian's direct lookups."""

    content_object = models.ForeignKey(ReferralSheet, on_delete=models.CASCADE)


class SheetGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(ReferralSheet, on_delete=models.CASCADE)


class HandoffUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Handoff, on_delete=models.CASCADE)


class HandoffGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Handoff, on_delete=models.CASCADE)


class SheetAccess(models.Model):
    """One reason an agency may read a sheet: it owns it, or a hop shared sections with it."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    sheet = models.ForeignKey(ReferralSheet, on_delete=models.PROTECT, related_name="access")
    handoff = models.OneToOneField(
        Handoff, on_delete=models.PROTECT, null=True, blank=True, related_name="access"
    )
    sections = models.JSONField()
    granted_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["agency", "-granted_at", "-id"], name="sheet_access_list_idx"),
            models.Index(fields=["agency", "sheet"], name="sheet_access_check_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "sheet"],
                condition=models.Q(handoff__isnull=True),
                name="sheet_access_one_owner_row",
            )
        ]

    def __str__(self) -> str:
        return f"access agency={self.agency_id} sheet={self.sheet_id}"
