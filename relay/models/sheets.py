"""The referral sheet (つなぐシート): one consultation about one person, in named sections."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from relay import choices
from relay.search import search_key
from security.fieldcrypt import EncryptedCharField, EncryptedJSONField, EncryptedTextField
from security.validators import guard_text_fields

_INITIALS = re.compile(r"^[A-Za-zＡ-Ｚａ-ｚ](?:[ .・]?[A-Za-zＡ-Ｚａ-ｚ]){0,3}\.?$")


def validate_initials(value: str) -> None:
    """Initials only (明石 太郎 -> A T), as the seeds' 相談シート asks."""
    if not _INITIALS.match(value.strip()):
        raise ValidationError(
            _("イニシャルで入力してください(例: A.T)。氏名は入力しないでください。"),
            code="not_initials",
        )


def _absence_days(label: Any) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        label, null=True, blank=True, validators=[MaxValueValidator(366)]
    )


class ReferralSheet(models.Model):
    """One consultation about one person; shared section by section under consent."""

    owner_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="sheets", verbose_name=_("作成機関")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    first_sent_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    # The initials and school, folded for Japanese-aware search (relay.search): written by the
    # sheet services with the fields it is made from, searched within the owner's sheets only.
    search_key = models.CharField(max_length=300, blank=True, editable=False)

    # basic
    subject_initials = models.CharField(
        _("イニシャル"), max_length=12, validators=[validate_initials]
    )
    # The name and the 要配慮 sections (health, safeguarding) are stored encrypted (AES-GCM,
    # security/fieldcrypt.py): a leaked database or backup does not show them.
    subject_full_name = EncryptedCharField(
        _("氏名(必要な場合のみ)"),
        max_length=100,
        blank=True,
        help_text=_("通常は入力しません。通知やログには決して表示されません。"),
    )
    birth_year = models.PositiveSmallIntegerField(
        _("生まれ年"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1930), MaxValueValidator(2100)],
    )
    grade = models.CharField(_("学年"), max_length=16, choices=choices.Grade.choices, blank=True)
    gender = models.CharField(_("性別"), max_length=10, choices=choices.Gender.choices, blank=True)
    school_name = models.CharField(_("学校名"), max_length=120, blank=True)
    municipality = models.CharField(_("居住する市区町村"), max_length=60, blank=True)

    # consultation
    consulted_on = models.DateField(_("相談日"))
    consulter = models.CharField(_("相談者"), max_length=16, choices=choices.Consulter.choices)
    consultation = models.TextField(_("相談内容"))
    categories = models.JSONField(_("支援が必要な分野"), default=list, blank=True)
    urgency = models.CharField(
        _("緊急度"), max_length=10, choices=choices.Urgency.choices, default=choices.Urgency.NORMAL
    )
    support_policy = models.TextField(_("支援の方針"), blank=True)

    # attendance
    absence_days_month = _absence_days(_("当月の欠席日数"))
    absence_days_since_april = _absence_days(_("4月からの欠席日数"))
    absence_days_last_year = _absence_days(_("昨年度の欠席日数"))
    absence_reason = models.CharField(
        _("欠席の理由(分類)"), max_length=16, choices=choices.AbsenceReason.choices, blank=True
    )
    attendance_will = models.CharField(
        _("登校に対する本人の意識"),
        max_length=12,
        choices=choices.Willingness.choices,
        blank=True,
    )
    school_life = models.TextField(_("学校での様子"), blank=True)

    # home
    family_structure = models.TextField(_("家族構成"), blank=True)
    daily_rhythm = models.CharField(
        _("生活リズム"), max_length=10, choices=choices.DailyRhythm.choices, blank=True
    )
    home_situation = models.TextField(_("家庭の状況"), blank=True)

    # health (要配慮個人情報)
    class_type = EncryptedCharField(
        _("学級種別"), max_length=16, choices=choices.ClassType.choices, blank=True
    )
    physical_condition = EncryptedTextField(_("身体の不調"), blank=True)
    mental_condition = EncryptedTextField(_("こころの不調"), blank=True)
    developmental_traits = EncryptedTextField(_("発達の特性・障害"), blank=True)

    # safeguarding (要配慮個人情報)
    abuse_suspected = EncryptedCharField(
        _("虐待の可能性"), max_length=8, choices=choices.YesNoUnknown.choices, blank=True
    )
    safeguarding_note = EncryptedTextField(_("虐待・非行に関する記録"), blank=True)

    # connections
    connections = models.JSONField(_("つながっている機関"), default=list, blank=True)
    connections_note = models.TextField(_("関係機関との連携の状況"), blank=True)

    # wishes
    wish_person = models.TextField(_("本人の希望"), blank=True)
    wish_guardian = models.TextField(_("保護者の希望"), blank=True)
    child_view = models.TextField(_("子ども本人の意見"), blank=True)
    interests = models.TextField(_("好きなこと・得意なこと"), blank=True)
    preferred_consultee = models.JSONField(_("希望する相談先"), default=list, blank=True)

    class Meta:
        verbose_name = _("つなぐシート")
        verbose_name_plural = _("つなぐシート")
        indexes = [
            models.Index(fields=["owner_agency", "-updated_at", "-id"], name="sheet_owner_idx"),
        ]

    def __str__(self) -> str:
        # Never the person's initials or name: sheet ids only outside the sheet itself.
        return f"シート #{self.pk}"

    def make_search_key(self) -> str:
        return search_key(self.subject_initials, self.school_name)

    @property
    def is_locked(self) -> bool:
        """Edits after the first send are versioned, never silent."""
        return self.first_sent_at is not None


class SheetVersion(models.Model):
    """A snapshot of a sheet's content before a change made after it was first sent."""

    sheet = models.ForeignKey(ReferralSheet, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    # Every section as it was, the 要配慮 ones included: encrypted as one value.
    content = EncryptedJSONField()
    changed_fields = models.JSONField(default=list)
    reason = models.TextField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sheet", "version"]
        constraints = [
            models.UniqueConstraint(fields=["sheet", "version"], name="sheet_version_unique")
        ]

    def __str__(self) -> str:
        return f"シート #{self.sheet_id} v{self.version}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name is random: the original file name may carry personal data.
    return f"attachments/{instance.sheet_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file attached to a sheet (section `attachments`), stored privately."""

    sheet = models.ForeignKey(ReferralSheet, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to=attachment_path)
    title = models.CharField(_("資料名"), max_length=120)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sheet", "id"]
        verbose_name = _("添付資料")
        verbose_name_plural = _("添付資料")

    def __str__(self) -> str:
        return f"添付 #{self.pk} (シート #{self.sheet_id})"


# The shared rules of every write path (security/validators.py): no control characters in
# text, links http(s) only.
guard_text_fields(ReferralSheet, Attachment)
