"""The audit event: append-only, hash-chained, ids only (never the subject's personal data)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    """The fixed vocabulary of audited actions, grouped by family (the prefix)."""

    # Authentication
    LOGIN = "auth.login", _("ログイン")
    LOGIN_FAILED = "auth.login_failed", _("ログイン失敗")
    LOGOUT = "auth.logout", _("ログアウト")
    # Directory and staff
    MEMBERSHIP_CREATED = "membership.created", _("職員の所属を登録")
    MEMBERSHIP_ROLE_CHANGED = "membership.role_changed", _("職員の役割を変更")
    MEMBERSHIP_REMOVED = "membership.removed", _("職員の所属を解除")
    API_KEY_CREATED = "api_key.created", _("APIキーを発行")
    API_KEY_REVOKED = "api_key.revoked", _("APIキーを失効")
    WEBHOOK_CONFIGURED = "webhook.configured", _("Webhookを設定")
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated", _("Webhookの秘密鍵を更新")
    # Sheets
    SHEET_CREATED = "sheet.created", _("シートを作成")
    SHEET_UPDATED = "sheet.updated", _("シートを更新")
    SHEET_VIEWED = "sheet.viewed", _("シートを閲覧")
    ATTACHMENT_ADDED = "sheet.attachment_added", _("添付ファイルを追加")
    ATTACHMENT_DOWNLOADED = "sheet.attachment_downloaded", _("添付ファイルをダウンロード")
    # Consent and lawful basis
    CONSENT_RECORDED = "consent.recorded", _("同意を記録")
    CONSENT_WITHDRAWN = "consent.withdrawn", _("同意を撤回")
    CONSENT_ENTERED_IN_ERROR = "consent.entered_in_error", _("同意を誤登録として取消")
    CONSENT_EXPIRED = "consent.expired", _("同意の有効期限切れ")
    LAWFUL_BASIS_RECORDED = "consent.lawful_basis_recorded", _("法令上の根拠を記録")
    LAWFUL_BASIS_APPROVED = "consent.lawful_basis_approved", _("法令上の根拠を承認")
    LAWFUL_BASIS_REJECTED = "consent.lawful_basis_rejected", _("法令上の根拠を却下")
    # Handoffs
    HANDOFF_CREATED = "handoff.created", _("引き継ぎを作成")
    HANDOFF_SUBMITTED = "handoff.submitted", _("送付の承認を依頼")
    HANDOFF_APPROVED = "handoff.approved", _("引き継ぎを承認")
    HANDOFF_RETURNED = "handoff.returned", _("差し戻し(下書きに戻す)")
    HANDOFF_SEND_REFUSED = "handoff.send_refused", _("送付を拒否(同意の範囲外)")
    HANDOFF_SENT = "handoff.sent", _("引き継ぎを送付")
    HANDOFF_VIEWED = "handoff.viewed", _("引き継ぎを閲覧")
    HANDOFF_ACKNOWLEDGED = "handoff.acknowledged", _("受領を確認")
    HANDOFF_ACCEPTED = "handoff.accepted", _("受け入れ")
    HANDOFF_DECLINED = "handoff.declined", _("辞退")
    HANDOFF_COMPLETED = "handoff.completed", _("完了(結果を記録)")
    HANDOFF_CANCELLED = "handoff.cancelled", _("取り下げ")
    HANDOFF_WITHDRAWN = "handoff.withdrawn", _("同意撤回により停止")
    HANDOFF_ESCALATED = "handoff.escalated", _("エスカレーション")
    # Object-level access
    ACCESS_GRANTED = "access.granted", _("閲覧権限を付与")
    ACCESS_REVOKED = "access.revoked", _("閲覧権限を取消")
    # Notifications
    NOTIFICATION_QUEUED = "notification.queued", _("通知を登録")
    NOTIFICATION_DELIVERED = "notification.delivered", _("通知を配信")
    NOTIFICATION_FAILED = "notification.failed", _("通知の配信に失敗")
    WEBHOOK_DISABLED = "webhook.disabled", _("Webhookを停止")
    DIGEST_SENT = "notification.digest_sent", _("期限超過のまとめを送信")
    # Exports and audit
    AUDIT_EXPORTED = "audit.exported", _("監査ログを出力")
    PROVISION_RECORDS_EXPORTED = "audit.provision_records_exported", _("提供記録を出力")


class ActionField(models.CharField):
    """The action column: choices come from AuditAction at run time (labels, admin filters),
    but migrations do not track them, so adding an action to the vocabulary needs none."""

    def deconstruct(self) -> tuple[str, str, list, dict]:  # type: ignore[override]
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("choices", None)
        return name, path, args, kwargs


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Refuses bulk changes: the trail is append-only (PostgreSQL triggers enforce it too)."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionError("audit events are append-only")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise PermissionError("audit events are append-only")


class AuditEvent(models.Model):
    """One audited action: who, what, on what, when, from where; chained by hash."""

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = ActionField(max_length=64, choices=AuditAction.choices)
    actor_kind = models.CharField(max_length=16)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_agency_id = models.BigIntegerField(null=True, blank=True)
    actor_api_key_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    sheet_id = models.BigIntegerField(null=True, blank=True)
    recipient_agency_id = models.BigIntegerField(null=True, blank=True)
    sections = models.JSONField(default=list, blank=True)
    lawful_basis = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("監査イベント")
        verbose_name_plural = _("監査イベント")
        indexes = [
            models.Index(fields=["sheet_id", "id"], name="audit_sheet_idx"),
            models.Index(fields=["actor_agency_id", "occurred_at"], name="audit_agency_time_idx"),
            models.Index(fields=["action", "occurred_at"], name="audit_action_time_idx"),
            models.Index(fields=["object_type", "object_id", "id"], name="audit_object_idx"),
        ]
        # Never granted through the admin: only services write, nobody edits.
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError("audit events are append-only")
