"""What flows back after acceptance: the receiver's progress updates on a hop.

Append-only like the hop's notes (relay.models.provisions): an update is never edited, a
correction is a new update. Whether the sender may read it was decided by the consent policy
when it was posted (section "progress" to the sender, for the hop's purpose) and is kept on
the row; the text is encrypted at rest like the sheet's 要配慮 fields, because a receiver's
words about how the person is doing can hold health or family matters.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from relay.models.handoffs import Handoff
from relay.models.provisions import AppendOnlyQuerySet
from security.fieldcrypt import EncryptedTextField
from security.validators import guard_text_fields


class ProgressStatus(models.TextChoices):
    """Where the person stands with the receiving agency, as the receiver reports it."""

    STARTED = "started", _("通所開始")
    CONTINUING = "continuing", _("継続中")
    PAUSED = "paused", _("中断")
    ENDED = "ended", _("終了")


# "Still connected": the statuses that say the person keeps coming (the 3-month metric).
CONNECTED = frozenset({ProgressStatus.STARTED, ProgressStatus.CONTINUING})
TEXT_MAX_LENGTH = 2000


class ProgressUpdate(models.Model):
    """One progress report of the receiver of an accepted hop: never overwritten."""

    handoff = models.ForeignKey(Handoff, on_delete=models.PROTECT, related_name="progress")
    status = models.CharField(_("状況"), max_length=16, choices=ProgressStatus.choices)
    text = EncryptedTextField(_("経過"), blank=True)
    # Attendance days in one month (education support centers): the month's first day.
    attendance_month = models.DateField(_("通所日数の対象月"), null=True, blank=True)
    attendance_days = models.PositiveSmallIntegerField(
        _("通所日数"), null=True, blank=True, validators=[MaxValueValidator(31)]
    )
    # The policy's answer when it was posted: may the sender read it (and under which record).
    shared_with_sender = models.BooleanField(default=False)
    consent = models.ForeignKey(
        "consent.ConsentRecord", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refusal_reason = models.CharField(max_length=40, blank=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField()

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["handoff", "created_at", "id"]
        verbose_name = _("受け入れ後の経過")
        verbose_name_plural = _("受け入れ後の経過")
        indexes = [models.Index(fields=["handoff", "created_at", "id"], name="progress_hop_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ProgressStatus.values), name="progress_status_valid"
            ),
            # Month and days go together, or neither.
            models.CheckConstraint(
                condition=models.Q(attendance_month__isnull=True, attendance_days__isnull=True)
                | models.Q(
                    attendance_month__isnull=False,
                    attendance_days__isnull=False,
                    attendance_days__lte=31,
                ),
                name="progress_attendance_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"経過 #{self.pk} (引き継ぎ #{self.handoff_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("a progress update is never overwritten: post a new one")
        super().save(*args, **kwargs)


guard_text_fields(ProgressUpdate)
