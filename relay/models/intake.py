"""A routing desk's intake: what people outside the network send through its public form, and
who at the desk looks after each item of its triage inbox."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from relay.models.handoffs import Handoff
from relay.models.sheets import ReferralSheet
from security.fieldcrypt import EncryptedCharField, EncryptedTextField
from security.validators import guard_text_fields

# The public form's limits: a bound on what a stranger can make us store.
SITUATION_MAX_CHARS = 2000
CONTACT_MAX_CHARS = 200


class Asker(models.TextChoices):
    """Who is asking, in the plain words of the public form."""

    PERSON = "person", _("本人")
    FAMILY = "family", _("家族")
    SCHOOL = "school", _("学校")
    NEIGHBOUR = "neighbour", _("近所の人・その他")


class ContactMethod(models.TextChoices):
    PHONE = "phone", _("電話")
    EMAIL = "email", _("メール")
    LETTER = "letter", _("手紙")
    VISIT = "visit", _("会いに来てほしい・会いに行きたい")


class IntakeStatus(models.TextChoices):
    NEW = "new", _("未対応")
    ASSIGNED = "assigned", _("担当者が決まった")
    SHEET_CREATED = "sheet_created", _("シートにした")
    CLOSED = "closed", _("終了")


class IntakeRecord(models.Model):
    """One submission of a desk's public intake form. Its free text and contact are stored
    encrypted; the audit trail and logs name it by id only."""

    desk = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="intake_records")
    asker = models.CharField(_("相談する人"), max_length=12, choices=Asker.choices)
    contact_method = models.CharField(_("連絡の方法"), max_length=8, choices=ContactMethod.choices)
    contact_detail = EncryptedCharField(_("連絡先"), max_length=CONTACT_MAX_CHARS)
    situation = EncryptedTextField(_("困っていること"))
    consent_to_contact = models.BooleanField(_("窓口から連絡してよい"))
    status = models.CharField(max_length=16, choices=IntakeStatus.choices, default=IntakeStatus.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("担当者"),
    )
    sheet = models.OneToOneField(
        ReferralSheet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="intake",
        verbose_name=_("作成したシート"),
    )
    received_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("相談フォームの受付")
        verbose_name_plural = _("相談フォームの受付")
        indexes = [models.Index(fields=["desk", "-id"], name="intake_desk_idx")]

    def __str__(self) -> str:
        return f"受付 #{self.pk}"


class DeskAssignment(models.Model):
    """The colleague at the desk who looks after a hop the desk received."""

    handoff = models.OneToOneField(
        Handoff, on_delete=models.PROTECT, related_name="desk_assignment"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField()

    class Meta:
        verbose_name = _("窓口の担当")
        verbose_name_plural = _("窓口の担当")

    def __str__(self) -> str:
        return f"担当 #{self.handoff_id}"


guard_text_fields(IntakeRecord)
