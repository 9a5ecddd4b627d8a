"""The audit event: append-only, hash-chained, ids only (never the subject's personal data)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from django.db import models
from django.db.models import F
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    """The fixed vocabulary of audited actions, grouped by family (the prefix)."""

    # Authentication
    LOGIN = "auth.login", _("ログイン")
    LOGIN_FAILED = "auth.login_failed", _("ログイン失敗")
    LOGOUT = "auth.logout", _("ログアウト")
    SESSION_EXPIRED = "auth.session_expired", _("セッションの期限切れ")
    SECOND_FACTOR_FAILED = "auth.second_factor_failed", _("2段階認証の失敗")
    SECOND_FACTOR_ENROLLED = "auth.second_factor_enrolled", _("2段階認証を登録")
    SECOND_FACTOR_RESET = "auth.second_factor_reset", _("2段階認証をリセット")
    RECOVERY_CODES_ISSUED = "auth.recovery_codes_issued", _("リカバリーコードを発行")
    RECOVERY_CODE_USED = "auth.recovery_code_used", _("リカバリーコードでログイン")
    PASSWORD_CHANGED = "auth.password_changed", _("パスワードを変更")
    REAUTHENTICATED = "auth.reauthenticated", _("重要な操作の前に再認証")
    # Directory and staff
    MEMBERSHIP_CREATED = "membership.created", _("職員の所属を登録")
    MEMBERSHIP_ROLE_CHANGED = "membership.role_changed", _("職員の役割を変更")
    MEMBERSHIP_REMOVED = "membership.removed", _("職員の所属を解除")
    API_KEY_CREATED = "api_key.created", _("APIキーを発行")
    API_KEY_REVOKED = "api_key.revoked", _("APIキーを失効")
    WEBHOOK_CONFIGURED = "webhook.configured", _("Webhookを設定")
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated", _("Webhookの秘密鍵を更新")
    SECURITY_POLICY_CHANGED = "agency.security_policy_changed", _("機関のセキュリティ設定を変更")
    # Sheets
    SHEET_CREATED = "sheet.created", _("シートを作成")
    SHEET_UPDATED = "sheet.updated", _("シートを更新")
    SHEET_VIEWED = "sheet.viewed", _("シートを閲覧")
    ATTACHMENT_ADDED = "sheet.attachment_added", _("添付ファイルを追加")
    ATTACHMENT_DOWNLOADED = "sheet.attachment_downloaded", _("添付ファイルをダウンロード")
    # Consent and lawful basis
    CONSENT_RECORDED = "consent.recorded", _("同意を記録")
    CONSENT_FORM_UPLOADED = "consent.form_uploaded", _("同意書の写しを登録")
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
    HANDOFF_UPDATE_SUBMITTED = "handoff.update_submitted", _("更新の送付の承認を依頼")
    HANDOFF_UPDATED = "handoff.updated", _("引き継ぎの更新を送付")
    HANDOFF_VIEWED = "handoff.viewed", _("引き継ぎを閲覧")
    HANDOFF_ACKNOWLEDGED = "handoff.acknowledged", _("受領を確認")
    HANDOFF_ACCEPTED = "handoff.accepted", _("受け入れ")
    HANDOFF_DECLINED = "handoff.declined", _("辞退")
    HANDOFF_COMPLETED = "handoff.completed", _("完了(結果を記録)")
    HANDOFF_CANCELLED = "handoff.cancelled", _("取り下げ")
    HANDOFF_WITHDRAWN = "handoff.withdrawn", _("同意撤回により停止")
    HANDOFF_ESCALATED = "handoff.escalated", _("エスカレーション")
    HANDOFF_PROGRESS_POSTED = "handoff.progress_posted", _("受け入れ後の経過を報告")
    HANDOFF_PROGRESS_VIEWED = "handoff.progress_viewed", _("受け入れ後の経過を閲覧")
    HANDOFF_ASSIGNED = "handoff.assigned", _("窓口で担当者を決定")
    # A routing desk's public intake form (issue 17)
    INTAKE_RECEIVED = "intake.received", _("相談フォームで受付")
    INTAKE_VIEWED = "intake.viewed", _("相談フォームの受付を閲覧")
    INTAKE_ASSIGNED = "intake.assigned", _("受付の担当者を決定")
    INTAKE_SHEET_CREATED = "intake.sheet_created", _("受付からシートを作成")
    INTAKE_CLOSED = "intake.closed", _("受付を終了")
    # Object-level access
    ACCESS_GRANTED = "access.granted", _("閲覧権限を付与")
    ACCESS_REVOKED = "access.revoked", _("閲覧権限を取消")
    ACCESS_REFUSED = "access.refused", _("アクセスを拒否")
    # Notifications
    NOTIFICATION_QUEUED = "notification.queued", _("通知を登録")
    NOTIFICATION_DELIVERED = "notification.delivered", _("通知を配信")
    NOTIFICATION_FAILED = "notification.failed", _("通知の配信に失敗")
    WEBHOOK_DISABLED = "webhook.disabled", _("Webhookを停止")
    NOTIFICATION_RETRIED = "notification.retried", _("通知を再送(運用者)")
    WEBHOOK_REENABLED = "webhook.reenabled", _("Webhookを再開(運用者)")
    DIGEST_SENT = "notification.digest_sent", _("期限超過のまとめを送信")
    # Due work (duework/): a clock's level fired (a reminder or an escalation)
    CLOCK_FIRED = "duework.fired", _("期限の督促・エスカレーション")
    # Councils, case meetings and support plans (conferences/)
    COUNCIL_SAVED = "council.saved", _("協議会を登録・更新")
    MEETING_CREATED = "meeting.created", _("ケース会議を登録")
    MEETING_RECORDED = "meeting.recorded", _("ケース会議の記録を保存(版)")
    MEETING_VIEWED = "meeting.viewed", _("ケース会議の記録を閲覧")
    AGENCY_REPORT_WRITTEN = "meeting.agency_report_written", _("関係機関からの情報を記入")
    PLAN_ACTION_PROGRESS = "plan.action_progress", _("取り組みの経過を記録")
    PLAN_ACTION_CHANGED = "plan.action_changed", _("取り組みの状態を変更")
    COORDINATOR_VIEWED = "coordinator.viewed", _("調整担当の一覧を閲覧")
    # Schools' attendance and early response (attendance/): never leaves the school
    SCHOOL_SETUP_CHANGED = "school.setup_changed", _("学校の学級・分掌・休業日を変更")
    PUPIL_REGISTERED = "pupil.registered", _("児童生徒を登録")
    PUPIL_VIEWED = "pupil.viewed", _("児童生徒の出欠と対応を閲覧")
    ATTENDANCE_RECORDED = "attendance.recorded", _("出欠を入力")
    ATTENDANCE_IMPORTED = "attendance.imported", _("出欠を取り込み")
    EARLY_ACTION_CREATED = "attendance.action_created", _("早期対応を作成")
    EARLY_ACTION_CLOSED = "attendance.action_closed", _("早期対応を記録・対応しないと記録")
    EARLY_ACTION_WITHDRAWN = "attendance.action_withdrawn", _("出欠の訂正で早期対応を取り消し")
    EARLY_ACTION_BACKFILLED = (
        "attendance.action_backfilled",
        _("過去の出欠の取り込みで、期限の過ぎた早期対応を終了扱いで作成"),
    )
    ATTENDANCE_EVALUATED = "attendance.evaluated", _("早期対応の基準を夜間に再評価")
    SITUATION_SHEET_SAVED = "attendance.situation_saved", _("実態把握シートを保存")
    ATTENDANCE_REPORT_VIEWED = "attendance.report_viewed", _("出欠の集計を閲覧")
    ATTENDANCE_REPORT_EXPORTED = "attendance.report_exported", _("月例の欠席集計を出力")
    # Exports and audit
    AUDIT_EXPORTED = "audit.exported", _("監査ログを出力")
    AUDIT_ARCHIVED = "audit.archived", _("監査ログの月を保管庫へ移動")
    PROVISION_RECORDS_EXPORTED = "audit.provision_records_exported", _("提供記録を出力")


class ActionField(models.CharField):
    """The action column: choices come from AuditAction at run time (labels, admin filters),
    but migrations do not track them, so adding an action to the vocabulary needs none."""

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("choices", None)
        return name, path, args, kwargs


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Refuses bulk changes: the trail is append-only (PostgreSQL triggers enforce it too)."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionError("audit events are append-only")

    def delete(self) -> NoReturn:
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
    # Which of the parallel chains the event extends (audit.chain); prev_hash is the hash of
    # the event before it in the same chain.
    chain = models.PositiveSmallIntegerField(default=0)
    prev_hash = models.CharField(max_length=64)
    # Unique on SQLite's plain table; on PostgreSQL's partitioned one not indexed at all
    # (audit 0011): the walk checks every link in id order, nothing looks a hash up.
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
            models.Index(fields=["chain", "id"], name="audit_chain_idx"),
            # A supervisor's page reads each branch of "what my agency may see" newest first
            # (relay.reports.audit_event_branches): by actor agency, by recipient agency, and
            # by the sending agency a hop's events name in their detail.
            models.Index(fields=["actor_agency_id", "id"], name="audit_agency_id_idx"),
            models.Index(fields=["recipient_agency_id", "id"], name="audit_recipient_id_idx"),
            models.Index(
                KeyTextTransform("from_agency_id", "detail"), F("id"), name="audit_from_agency_idx"
            ),
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


class AppendOnly(models.Model):
    """Rows that are written once and never changed (PostgreSQL grants and triggers agree)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError(f"{self._meta.db_table} is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError(f"{self._meta.db_table} is append-only")


class ChainHead(models.Model):
    """Where one chain ends now: the row an appender locks. A pointer kept for speed, not
    evidence: verification recomputes every head from the events themselves."""

    chain = models.PositiveSmallIntegerField(primary_key=True)
    last_id = models.BigIntegerField(null=True, blank=True)
    hash = models.CharField(max_length=64)
    count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("監査チェーンの末尾")
        verbose_name_plural = _("監査チェーンの末尾")
        default_permissions = ()

    def __str__(self) -> str:
        return f"chain {self.chain} at #{self.last_id}"


class AuditAnchor(AppendOnly):
    """A signed checkpoint of every chain's verified head; a copy also goes outside the
    database (AUDIT_ANCHOR_PATH, optionally syslog), where a restore cannot reach it."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_id = models.BigIntegerField(null=True, blank=True)
    count = models.BigIntegerField()
    # The exact signed text (canonical JSON) and its signature, as written to the file.
    payload = models.TextField()
    signature = models.CharField(max_length=128)
    key_id = models.CharField(max_length=16)

    class Meta:
        ordering = ["id"]
        verbose_name = _("監査アンカー")
        verbose_name_plural = _("監査アンカー")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"anchor #{self.pk} at event {self.last_id}"


class AuditArchive(AppendOnly):
    """A month moved out of the live table: where its export is, and the heads it ended on,
    signed, so verification of the later months starts from them instead of genesis."""

    created_at = models.DateTimeField(default=timezone.now)
    month = models.DateField(unique=True)
    payload = models.TextField()
    signature = models.CharField(max_length=128)
    key_id = models.CharField(max_length=16)

    class Meta:
        ordering = ["month"]
        verbose_name = _("監査ログの保管")
        verbose_name_plural = _("監査ログの保管")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"archived {self.month:%Y-%m}"


class VerificationStatus(models.Model):
    """The outcome of the latest verification run (one row): what the supervisor page shows,
    and where the next incremental run starts (the heads it verified)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    checked_at = models.DateTimeField()
    ok = models.BooleanField()
    full = models.BooleanField(default=False)
    count = models.BigIntegerField(default=0)
    last_id = models.BigIntegerField(null=True, blank=True)
    # {"<chain>": [last event id, its hash, events in the chain]} as verified.
    heads = models.JSONField(default=dict)
    broken_id = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    anchor_id = models.BigIntegerField(null=True, blank=True)
    checked_events = models.BigIntegerField(default=0)
    duration_ms = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("監査ログの検証結果")
        verbose_name_plural = _("監査ログの検証結果")
        default_permissions = ()

    def __str__(self) -> str:
        return f"verified {self.count} at {self.checked_at:%Y-%m-%d %H:%M}: {self.ok}"


class RefusalWindow(models.Model):
    """Refusals of one actor for one reason in one minute, counted here (a plain table the
    application may update) and written to the chain as one event when the minute is over."""

    minute = models.DateTimeField()
    actor_key = models.CharField(max_length=80)
    reason = models.CharField(max_length=64)
    actor_kind = models.CharField(max_length=16)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_agency_id = models.BigIntegerField(null=True, blank=True)
    actor_api_key_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    count = models.PositiveIntegerField(default=0)
    # The first few targets ("type:id"), and the HTTP status and request of the first one.
    targets = models.JSONField(default=list)
    status = models.PositiveSmallIntegerField(default=0)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    burst_notified = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("アクセス拒否の集計")
        verbose_name_plural = _("アクセス拒否の集計")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "actor_key", "reason"], name="audit_refusal_window_once"
            )
        ]
        indexes = [models.Index(fields=["minute"], name="audit_refusal_minute_idx")]

    def __str__(self) -> str:
        return f"{self.actor_key} {self.reason} x{self.count} at {self.minute:%H:%M}"
