"""A person's saved searches of a list screen (sheets, inbox, outbox)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ListScreen(models.TextChoices):
    SHEETS = "sheets", _("シート")
    INBOX = "inbox", _("受信した引き継ぎ")
    OUTBOX = "outbox", _("送付した引き継ぎ")


class SavedFilter(models.Model):
    """A named query string of one list screen, kept for the person who saved it only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    screen = models.CharField(max_length=16, choices=ListScreen.choices)
    name = models.CharField(_("名前"), max_length=40)
    query = models.CharField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "screen", "name"], name="saved_filter_name")
        ]

    def __str__(self) -> str:
        return f"saved filter {self.pk} ({self.screen})"
