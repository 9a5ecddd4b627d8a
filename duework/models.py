"""The clock: one deadline of one piece of due work, with its escalation steps and state."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency


class ClockState(models.TextChoices):
    OPEN = "open", _("進行中")
    STOPPED = "stopped", _("停止")
    DONE = "done", _("完了")


class Clock(models.Model):
    """A deadline in business time on one subject, owned by an agency (optionally a role or a
    person), with the escalation steps snapshotted when it started."""

    kind = models.CharField(_("種類"), max_length=40)
    # The subject: a row (content type + id) or a generic key; subject_key names either and
    # makes "one clock per (kind, subject)" one unique index.
    # No single-column indexes on the foreign keys: clock_subject_idx and clock_owner_open_idx
    # lead with them, and every index is written again when the sweep moves a clock on.
    subject_type = models.ForeignKey(
        ContentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    subject_id = models.PositiveBigIntegerField(null=True, blank=True)
    subject_key = models.CharField(max_length=120)
    owner_agency = models.ForeignKey(
        Agency,
        on_delete=models.PROTECT,
        related_name="clocks",
        verbose_name=_("担当機関"),
        db_index=False,
    )
    owner_role = models.CharField(_("担当の役割"), max_length=16, blank=True)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("担当者"),
        db_index=False,
    )
    # Ids the notifications and the audit event need (a sheet id, the other agency): never
    # personal data.
    sheet_id = models.PositiveBigIntegerField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(_("期限"))
    next_fire_at = models.DateTimeField(null=True, blank=True)
    level = models.PositiveSmallIntegerField(_("段階"), default=0)
    fired_count = models.PositiveIntegerField(default=0)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    policy = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=ClockState.choices, default=ClockState.OPEN)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("期限")
        verbose_name_plural = _("期限")
        indexes = [
            # The sweep: due open clocks, oldest first, through a partial index.
            models.Index(
                fields=["next_fire_at"],
                name="clock_due_idx",
                condition=models.Q(state="open", next_fire_at__isnull=False),
            ),
            # Overdue lists per agency (coordinator view, home).
            models.Index(
                fields=["owner_agency", "due_at"],
                name="clock_owner_open_idx",
                condition=models.Q(state="open"),
            ),
            models.Index(fields=["subject_type", "subject_id"], name="clock_subject_idx"),
            # Few clocks name a person (the approval clock's approver): only those rows.
            models.Index(
                fields=["owner_user"],
                name="clock_owner_user_idx",
                condition=models.Q(owner_user__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject_key"], name="clock_once_per_subject"),
            models.CheckConstraint(
                condition=models.Q(state__in=ClockState.values), name="clock_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_key}"
