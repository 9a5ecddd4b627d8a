"""What a receiver holds: provisions (snapshots taken at each send) and the hop's notes.

Both are append-only: a provision is never changed once written (a later send is a new
version), and a note is never overwritten (every transition's note is its own row). A later
recorded refusal hides sections from the receiver's view through the hop's access row
(relay.access), never by editing a provision.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from consent.vocabulary import Section
from relay.models.handoffs import Handoff
from security.fieldcrypt import EncryptedJSONField


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Refuses bulk changes: these rows are records (APPI), kept as written."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionError("append-only rows cannot be updated")

    def delete(self) -> NoReturn:
        raise PermissionError("append-only rows cannot be deleted")


class Provision(models.Model):
    """One send of a hop: exactly the shared sections' content, as it was, with its hash."""

    handoff = models.ForeignKey(Handoff, on_delete=models.PROTECT, related_name="provisions")
    version = models.PositiveIntegerField()
    sections = models.JSONField()
    # {section: {field: value}}; the attachments section lists the files' ids and hashes.
    # Encrypted at rest like the sheet's 要配慮 sections it may hold (security.fieldcrypt).
    content = EncryptedJSONField()
    content_hash = models.CharField(max_length=64)
    consent = models.ForeignKey(
        "consent.ConsentRecord", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who recorded that consent: the sheet's owner, or an agency that held the sheet and met
    # the person (relay onward under its own consent). Kept with the snapshot, like the rest.
    consent_agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    # Which sections changed since the previous version (empty for version 1).
    changed_sections = models.JSONField(default=list, blank=True)
    # From this version's basic section (blank where it holds none): what the receiver's inbox
    # lists and searches by, so that a receiver never finds a hop by the owner's live sheet.
    # Plain text like the sheet's own columns (initials and school are not 要配慮).
    search_key = models.CharField(max_length=300, blank=True, editable=False)
    school_name = models.CharField(max_length=120, blank=True, editable=False)
    grade = models.CharField(max_length=16, blank=True, editable=False)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["handoff", "version"]
        verbose_name = _("提供記録(送付内容)")
        verbose_name_plural = _("提供記録(送付内容)")
        constraints = [
            models.UniqueConstraint(fields=["handoff", "version"], name="provision_version_unique")
        ]

    def __str__(self) -> str:
        return f"引き継ぎ #{self.handoff_id} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("a provision is immutable: a later send is a new version")
        super().save(*args, **kwargs)

    @property
    def changed_labels(self) -> str:
        """The changed sections, by their labels, for a version history."""
        return "、".join(
            str(Section(s).label) for s in self.changed_sections if s in Section.values
        )


class NoteKind(models.TextChoices):
    MESSAGE = "message", _("送付元からの連絡事項")
    RETURN = "return", _("差し戻しの理由")
    ACKNOWLEDGE = "acknowledge", _("受領確認のメモ")
    ACCEPT = "accept", _("受け入れのメモ")
    DECLINE = "decline", _("辞退の補足")
    COMPLETE = "complete", _("結果の補足")
    CANCEL = "cancel", _("取り下げの補足")
    UPDATE = "update", _("更新の連絡事項")
    ELIGIBILITY = "eligibility", _("対象外と知りつつ送付する理由")


# Notes the receiver never sees: the sending agency's internal sign-off conversation.
SENDER_ONLY_NOTES = frozenset({NoteKind.RETURN})


class HandoffNote(models.Model):
    """One note of one transition of a hop, with its author: never overwritten."""

    handoff = models.ForeignKey(Handoff, on_delete=models.PROTECT, related_name="notes")
    kind = models.CharField(max_length=16, choices=NoteKind.choices)
    text = models.TextField()
    # The action of the transition table (or "update") the note was written with.
    transition = models.CharField(max_length=24)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author_label = models.CharField(max_length=150, blank=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["handoff", "created_at", "id"]
        verbose_name = _("引き継ぎのメモ")
        verbose_name_plural = _("引き継ぎのメモ")
        indexes = [models.Index(fields=["handoff", "id"], name="handoff_note_idx")]

    def __str__(self) -> str:
        return f"メモ #{self.pk} (引き継ぎ #{self.handoff_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("a note is never overwritten: write a new one")
        super().save(*args, **kwargs)
