"""Case meetings (ケース会議) about a sheet, their versioned records, each agency's own
report, and the support plan's actions with their append-only progress.

The record follows the seeds' ケース会議記録シート (Akashi 参考資料 3 and 4): the person's and
the guardian's wishes, each related agency's information (written by that agency), the
support goal, the five-area grid (学習面, 社会・心理面, 進路面, 生活面, 家庭面, その他 ×
問題点, 問題の背景, 自助資源, 援助資源), the concrete plan lines, role sharing with short-term
goals and progress/evaluation, what was confirmed and agreed, and the next review date.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from consent.models import ConsentRecord, Council


class Area(models.TextChoices):
    LEARNING = "learning", _("学習面")
    SOCIAL = "social", _("社会・心理面")
    CAREER = "career", _("進路面")
    LIVING = "living", _("生活面")
    FAMILY = "family", _("家庭面")
    OTHER = "other", _("その他")


class GridColumn(models.TextChoices):
    PROBLEM = "problem", _("問題点")
    BACKGROUND = "background", _("問題の背景")
    SELF_RESOURCES = "self_resources", _("自助資源")
    SUPPORT_RESOURCES = "support_resources", _("援助資源")


class ForWhom(models.TextChoices):
    PERSON = "person", _("本人")
    FAMILY = "family", _("家庭")
    CLASS = "class", _("学級")
    HOMEROOM = "homeroom", _("担任")
    AGENCIES = "agencies", _("関係機関")


class ActionState(models.TextChoices):
    OPEN = "open", _("取り組み中")
    DONE = "done", _("達成")
    CARRIED = "carried", _("継続(次の計画へ)")
    CHANGED = "changed", _("変更(次の計画へ)")
    DROPPED = "dropped", _("中止")


class CaseMeeting(models.Model):
    """A case meeting about a sheet, held by an organising agency, under a basis (consent
    covering the participants for the purpose "case conference", or a council's approved
    basis); a review meeting follows an earlier one and carries its plan forward."""

    sheet = models.ForeignKey(
        "relay.ReferralSheet", on_delete=models.PROTECT, related_name="case_meetings"
    )
    organizer = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="organized_meetings",
        verbose_name=_("主催機関"),
    )  # fmt: skip
    council = models.ForeignKey(
        Council, on_delete=models.PROTECT, null=True, blank=True, related_name="meetings",
        verbose_name=_("協議会"),
    )  # fmt: skip
    basis = models.ForeignKey(
        ConsentRecord, on_delete=models.PROTECT, related_name="meetings",
        verbose_name=_("情報共有の根拠"),
    )  # fmt: skip
    follows = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reviews",
        verbose_name=_("見直し元の会議"),
    )  # fmt: skip
    held_on = models.DateField(_("開催日"))
    place = models.CharField(_("場所"), max_length=200, blank=True)
    person_attended = models.BooleanField(_("本人の出席"), default=False)
    guardian_attended = models.BooleanField(_("保護者の出席"), default=False)
    next_review_on = models.DateField(_("次回の見直し日"), null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("ケース会議")
        verbose_name_plural = _("ケース会議")
        indexes = [models.Index(fields=["sheet", "-held_on"], name="meeting_sheet_idx")]

    def __str__(self) -> str:
        return f"ケース会議 #{self.pk}"


class Participant(models.Model):
    """An agency taking part in a meeting (its staff as named on the record)."""

    meeting = models.ForeignKey(CaseMeeting, on_delete=models.PROTECT, related_name="participants")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="meeting_seats")
    attendees = models.CharField(_("出席者(職名)"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("参加機関")
        verbose_name_plural = _("参加機関")
        constraints = [
            models.UniqueConstraint(fields=["meeting", "agency"], name="participant_once"),
        ]
        indexes = [models.Index(fields=["agency", "meeting"], name="participant_agency_idx")]

    def __str__(self) -> str:
        return f"{self.meeting_id}:{self.agency_id}"


class RecordVersion(models.Model):
    """One saved version of a meeting's record: a snapshot, never edited."""

    meeting = models.ForeignKey(CaseMeeting, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    content = models.JSONField()
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("会議記録の版")
        verbose_name_plural = _("会議記録の版")
        constraints = [
            models.UniqueConstraint(fields=["meeting", "version"], name="record_version_once"),
        ]

    def __str__(self) -> str:
        return f"{self.meeting_id} v{self.version}"


class AgencyReport(models.Model):
    """関係機関からの情報: what one participating agency reports, written by that agency."""

    meeting = models.ForeignKey(CaseMeeting, on_delete=models.PROTECT, related_name="reports")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("関係機関からの情報"))
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    written_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("関係機関からの情報")
        verbose_name_plural = _("関係機関からの情報")
        constraints = [
            models.UniqueConstraint(fields=["meeting", "agency"], name="report_once_per_agency"),
        ]

    def __str__(self) -> str:
        return f"{self.meeting_id}:{self.agency_id}"


class PlanAction(models.Model):
    """A line of the support plan (具体的な支援策) as an action: what, who (an agency and
    optionally a person or role), by when, where, for whom, with its short-term goal."""

    meeting = models.ForeignKey(CaseMeeting, on_delete=models.PROTECT, related_name="actions")
    carried_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="carried_to"
    )
    what = models.TextField(_("具体的な支援策"))
    owner_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="plan_actions", verbose_name=_("担当機関")
    )
    owner_role = models.CharField(_("担当(職名・役割)"), max_length=100, blank=True)
    due_on = models.DateField(_("期限"))
    where = models.CharField(_("場所"), max_length=200, blank=True)
    for_whom = models.CharField(_("対象"), max_length=16, choices=ForWhom.choices)
    short_term_goal = models.TextField(_("短期目標"), blank=True)
    state = models.CharField(
        _("状態"), max_length=10, choices=ActionState.choices, default=ActionState.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("支援計画の取り組み")
        verbose_name_plural = _("支援計画の取り組み")
        indexes = [
            models.Index(fields=["owner_agency", "state", "due_on"], name="action_owner_idx")
        ]

    def __str__(self) -> str:
        return f"取り組み #{self.pk}"


class ActionProgress(models.Model):
    """経過・評価: one progress entry of an action by its owner agency; append-only."""

    action = models.ForeignKey(PlanAction, on_delete=models.PROTECT, related_name="progress")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("経過・評価"))
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    written_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("経過・評価")
        verbose_name_plural = _("経過・評価")
        ordering = ["written_at", "id"]

    def __str__(self) -> str:
        return f"{self.action_id}@{self.written_at:%Y-%m-%d}"
