"""Consent records and the lawful bases that stand in for consent.

A record is never edited in what it permits: a change of purpose, recipients or sections is a
new record. It can only be withdrawn, expire, or be marked entered-in-error.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency, AgencyKind
from consent.vocabulary import Basis
from security.validators import guard_text_fields


class Grantor(models.TextChoices):
    PERSON = "person", _("本人")
    GUARDIAN = "guardian", _("保護者")
    LEGAL_REPRESENTATIVE = "legal_representative", _("法定代理人")


class Method(models.TextChoices):
    WRITTEN = "written", _("書面")
    VERBAL = "verbal", _("口頭")
    ELECTRONIC = "electronic", _("電子")


class ChildAssent(models.TextChoices):
    ASSENTED = "assented", _("子ども本人も賛成")
    OBJECTED = "objected", _("子ども本人は反対")
    NOT_ASKED = "not_asked", _("確認していない")
    NOT_APPLICABLE = "not_applicable", _("該当しない(成人など)")


class Decision(models.TextChoices):
    PERMIT = "permit", _("共有に同意")
    DENY = "deny", _("共有を拒否")


class ConsentStatus(models.TextChoices):
    ACTIVE = "active", _("有効")
    WITHDRAWN = "withdrawn", _("撤回")
    EXPIRED = "expired", _("期限切れ")
    ENTERED_IN_ERROR = "entered_in_error", _("誤登録")


class Approval(models.TextChoices):
    NOT_REQUIRED = "not_required", _("不要")
    PENDING = "pending", _("承認待ち")
    APPROVED = "approved", _("承認済み")
    REJECTED = "rejected", _("却下")


def scanned_form_path(instance: ConsentRecord, filename: str) -> str:
    return f"consent-forms/{instance.sheet_id}/{uuid.uuid4().hex}"


class ConsentRecord(models.Model):
    """Who agreed (or which lawful basis applies) to share which sections, with whom, why."""

    sheet = models.ForeignKey(
        "relay.ReferralSheet", on_delete=models.PROTECT, related_name="consents"
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="+", verbose_name=_("記録した機関")
    )
    basis = models.CharField(_("根拠"), max_length=20, choices=Basis.choices, default=Basis.CONSENT)
    decision = models.CharField(
        _("意思"), max_length=8, choices=Decision.choices, default=Decision.PERMIT
    )
    grantors = models.JSONField(_("同意した人"), default=list, blank=True)
    child_assent = models.CharField(
        _("子ども本人の意向"), max_length=16, choices=ChildAssent.choices, blank=True
    )
    method = models.CharField(_("同意の方法"), max_length=12, choices=Method.choices, blank=True)
    explanation_version = models.CharField(_("説明文の版"), max_length=40, blank=True)
    reason = models.TextField(_("理由(法令上の根拠の場合は必須)"), blank=True)
    recipient_agencies = models.ManyToManyField(Agency, blank=True, related_name="+")
    recipient_kinds = models.JSONField(_("提供先の種別"), default=list, blank=True)
    sections = models.JSONField(_("共有する項目"))
    purposes = models.JSONField(_("目的"))
    valid_from = models.DateTimeField(_("有効期間の開始"))
    valid_until = models.DateTimeField(_("有効期限・見直し日"))
    status = models.CharField(
        max_length=20, choices=ConsentStatus.choices, default=ConsentStatus.ACTIVE
    )
    obtained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    obtained_at = models.DateTimeField(_("取得日時"))
    scanned_form = models.FileField(upload_to=scanned_form_path, blank=True)
    approval = models.CharField(
        max_length=16, choices=Approval.choices, default=Approval.NOT_REQUIRED
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_note = models.TextField(blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawn_via = models.CharField(_("撤回の申し出をした人"), max_length=100, blank=True)
    withdrawal_reason = models.TextField(_("撤回の理由"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("同意記録")
        verbose_name_plural = _("同意記録")
        indexes = [models.Index(fields=["sheet", "status"], name="consent_sheet_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("valid_from")),
                name="consent_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"同意記録 #{self.pk} (シート #{self.sheet_id})"

    @property
    def is_lawful_basis(self) -> bool:
        return self.basis != Basis.CONSENT

    def covers_recipient(self, agency: Agency) -> bool:
        """Named agency or agency kind; needs recipient_agencies prefetched or one query."""
        if agency.kind in self.recipient_kinds:
            return True
        return any(a.pk == agency.pk for a in self.recipient_agencies.all())

    def in_force_at(self, at: datetime) -> bool:
        return (
            self.status == ConsentStatus.ACTIVE
            and self.valid_from <= at < self.valid_until
            and self.approval in (Approval.NOT_REQUIRED, Approval.APPROVED)
        )


RECIPIENT_KINDS = frozenset(AgencyKind.values)


# The shared rules of every write path (security/validators.py): no control characters in
# text, links http(s) only.
guard_text_fields(ConsentRecord)
