"""Credentials of partner systems: API keys, of which only a hash of the secret is stored."""

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
