"""Consent records and the lawful bases that stand in for consent.

A record is never edited in what it permits: a change of purpose, recipients or sections is a
new record. It can only be withdrawn, expire, or be marked entered-in-error.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
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


class CouncilKind(models.TextChoices):
    """The statutory councils inside which information is shared without consent."""

    YOTAIKYO = "yotaikyo", _("要保護児童対策地域協議会")
    SUPPORT_COUNCIL = "support_council", _("支援会議(重層的支援体制整備事業・生活困窮者自立支援)")
    SCHOOL_COMMITTEE = "school_committee", _("校内支援委員会")


# The lawful basis each kind of council stands for, and the purposes it serves.
COUNCIL_BASIS = {
    CouncilKind.YOTAIKYO: "yotaikyo",
    CouncilKind.SUPPORT_COUNCIL: "support_council",
}
COUNCIL_PURPOSES = frozenset({"case_conference", "support", "protection", "school_support"})


class Council(models.Model):
    """A statutory council: its kind, the coordinating agency (調整機関), its member agencies
    (each with its own membership period) and the period the council itself is in force."""

    kind = models.CharField(_("種別"), max_length=20, choices=CouncilKind.choices)
    name = models.CharField(_("名称"), max_length=200)
    municipality = models.CharField(_("市区町村"), max_length=60, db_index=True)
    coordinating_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="coordinated_councils",
        verbose_name=_("調整機関"),
    )  # fmt: skip
    purposes = models.JSONField(_("協議会の目的"), default=list)
    valid_from = models.DateTimeField(_("有効期間の開始"))
    valid_until = models.DateTimeField(_("有効期間の終了"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("協議会")
        verbose_name_plural = _("協議会")

    def __str__(self) -> str:
        return self.name

    def in_force_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)

    def member_ids_at(self, at: datetime) -> set[int]:
        """The member agencies at `at` (needs members prefetched, or one query); the
        coordinating agency is always one while the council is in force."""
        if not self.in_force_at(at):
            return set()
        ids = {m.agency_id for m in self.members.all() if m.in_force_at(at)}
        return ids | {self.coordinating_agency_id}


class CouncilMember(models.Model):
    """An agency's membership of a council, for a period."""

    council = models.ForeignKey(Council, on_delete=models.PROTECT, related_name="members")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="council_seats")
    valid_from = models.DateTimeField(_("参加の開始"))
    valid_until = models.DateTimeField(_("参加の終了"), null=True, blank=True)

    class Meta:
        verbose_name = _("協議会の構成機関")
        verbose_name_plural = _("協議会の構成機関")
        constraints = [
            models.UniqueConstraint(fields=["council", "agency"], name="council_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.council_id}:{self.agency_id}"

    def in_force_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)


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
    # A council's lawful basis names its council: it covers only the council's members, for
    # the council's purposes.
    council = models.ForeignKey(
        Council, on_delete=models.PROTECT, null=True, blank=True, related_name="bases",
        verbose_name=_("協議会"),
    )  # fmt: skip
    recipient_kinds = models.JSONField(_("提供先の種別"), default=list, blank=True)
    # A recipient chosen by a routing desk (Komae): the desk itself, and whichever agency of
    # these kinds the desk then sends it to, with no new consent.
    routing_desk = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("振り分け窓口"),
    )  # fmt: skip
    routing_kinds = models.JSONField(_("窓口がつなぐ先の種別"), default=list, blank=True)
    sections = models.JSONField(_("共有する項目"))
    purposes = models.JSONField(_("目的"))
    valid_from = models.DateTimeField(_("有効期間の開始"))
    valid_until = models.DateTimeField(_("有効期限・見直し日"))
    status = models.CharField(
        max_length=20, choices=ConsentStatus.choices, default=ConsentStatus.ACTIVE
    )
    # A staff member who recorded it on screen; empty when a partner system recorded it through
    # the API, which names its own staff member in `obtained_by_label` (and the audit event
    # names the API key).
    obtained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    obtained_by_label = models.CharField(_("同意を取得した職員"), max_length=150, blank=True)
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

    def covers_recipient(self, agency: Agency, at: datetime | None = None) -> bool:
        """Named agency or agency kind; needs recipient_agencies prefetched or one query.

        A basis naming a council also needs the agency to be a member of it (at `at`, or
        now): naming a non-member, or a member that has left, covers nothing.
        """
        if self.council_id is not None:
            when = at or timezone.now()
            if agency.pk not in self.council.member_ids_at(when):  # type: ignore[union-attr]
                return False
        if agency.kind in self.recipient_kinds:
            return True
        if self.routing_desk_id is not None and agency.pk == self.routing_desk_id:
            return True
        return any(a.pk == agency.pk for a in self.recipient_agencies.all())

    def routes_through(self, desk_id: int) -> bool:
        """The record names this agency as the routing desk that chooses the recipient."""
        return self.routing_desk_id is not None and self.routing_desk_id == desk_id

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
