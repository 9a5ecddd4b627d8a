"""Credentials of partner systems (API keys) and the responses kept for Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency


class APIKey(models.Model):
    """A credential of one agency's partner system; only a hash of the secret is stored."""

    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("機関")
    )
    name = models.CharField(_("名前"), max_length=100, help_text=_("用途が分かる名前"))
    # Public part of the key (tsk_<prefix>_...): shown in lists and used to find the row.
    prefix = models.CharField(_("プレフィックス"), max_length=8, unique=True, editable=False)
    # SHA-256 of the whole key: keys carry 256 random bits, so a slow hash would add nothing.
    hashed_key = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("スコープ"), default=list)
    expires_at = models.DateTimeField(_("有効期限"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("失効日時"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("失効させた人"),
    )
    last_used_at = models.DateTimeField(_("最終利用"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("発行した人"),
    )
    created_at = models.DateTimeField(_("発行日時"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["agency", "-created_at"]
        verbose_name = _("APIキー")
        verbose_name_plural = _("APIキー")

    def __str__(self) -> str:
        return f"{self.name} (tsk_{self.prefix}_…)"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_usable(self, now: datetime) -> bool:
        return not self.is_revoked and not self.is_expired(now)


class IdempotencyRecord(models.Model):
    """One Idempotency-Key of one principal: claimed before the view runs, then its response."""

    # "key:<api key id>" or "user:<user id>": keys of different principals never collide.
    principal = models.CharField(max_length=40)
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    # Null while the first request is in flight.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("冪等キー")
        verbose_name_plural = _("冪等キー")
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "key"], name="idempotency_key_unique_per_principal"
            )
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"

    @property
    def is_complete(self) -> bool:
        return self.status_code is not None
