"""Sheets: create, edit (versioned once sent), attach files, and audited reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from agencies.actors import READERS, SENDERS, Staff
from agencies.categories import CATEGORY_CODES
from agencies.errors import InvalidInput, NotFound, SheetLocked
from audit.models import AuditAction
from consent.vocabulary import Section
from relay import access, snapshots
from relay.audit_events import sheet_event
from relay.choices import Connection, PreferredConsultee
from relay.models import Attachment, ReferralSheet, SheetVersion
from relay.sections import CONTENT_FIELDS, SECTION_FIELDS, full_snapshot, sheet_content

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ALLOWED_ATTACHMENT_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "text/plain"})
# The browser's declared type is not trusted: the first bytes must agree with it.
_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


def upload_content_matches(upload: UploadedFile) -> bool:
    """Do the file's first bytes agree with its declared type? (Attachments and scanned
    consent forms alike: an HTML page declared as a PDF is refused.)"""
    return _content_matches(upload)


def _content_matches(upload: UploadedFile) -> bool:
    upload.seek(0)
    head = upload.read(2048)
    upload.seek(0)
    if upload.content_type == "text/plain":
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            # A multi-byte character cut at 2048 bytes is still text.
            return _decodes_truncated(head)
        return b"\x00" not in head
    return head.startswith(_MAGIC.get(upload.content_type or "", (b"\x00\x00",)))


def _decodes_truncated(head: bytes) -> bool:
    try:
        head[:-3].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_LIST_VOCABULARIES = {
    "categories": CATEGORY_CODES,
    "connections": frozenset(Connection.values),
    "preferred_consultee": frozenset(PreferredConsultee.values),
}


def _apply(sheet: ReferralSheet, data: dict[str, Any]) -> list[str]:
    """Set content fields from `data`, validate, and return the names that changed."""
    unknown = set(data) - set(CONTENT_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown fields: {sorted(unknown)}", field=sorted(unknown)[0])
    for name, vocabulary in _LIST_VOCABULARIES.items():
        if name in data:
            values = data[name] or []
            if not isinstance(values, list) or not set(values) <= vocabulary:
                raise InvalidInput(field=name)
            data[name] = sorted(set(values))
    changed = [name for name, value in data.items() if getattr(sheet, name) != value]
    for name in changed:
        setattr(sheet, name, data[name])
    try:
        sheet.full_clean(exclude=["owner_agency", "created_by"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(messages[0], field=field, errors=exc.message_dict) from exc
    return changed


@transaction.atomic
def sheet_create(*, staff: Staff, data: dict[str, Any]) -> ReferralSheet:
    """Record a consultation as a new sheet owned by the staff member's agency."""
    staff.require_role(*SENDERS)
    sheet = ReferralSheet(owner_agency=staff.agency, created_by=staff.user)
    _apply(sheet, dict(data))
    sheet.search_key = sheet.make_search_key()
    sheet.save()
    access.grant_owner(sheet=sheet, actor=staff.audit_actor())
    sheet_event(AuditAction.SHEET_CREATED, sheet=sheet, actor=staff.audit_actor())
    return sheet


@transaction.atomic
def sheet_update(
    *, staff: Staff, sheet_id: int, data: dict[str, Any], reason: str = ""
) -> ReferralSheet:
    """Edit a sheet. Before its first send: in place. After: a version is kept, with a reason."""
    staff.require_role(*SENDERS)
    sheet = access.sheet_owned_by(staff=staff, sheet_id=sheet_id, for_update=True)
    before = full_snapshot(sheet)
    changed = _apply(sheet, dict(data))
    if not changed:
        return sheet
    version_detail: dict[str, Any] = {}
    if sheet.is_locked:
        if not reason.strip():
            raise SheetLocked(field="reason")
        SheetVersion.objects.create(
            sheet=sheet,
            version=sheet.version,
            content=before,
            changed_fields=changed,
            reason=reason.strip(),
            changed_by=staff.person,
        )
        sheet.version += 1
        version_detail = {"version": sheet.version}
    sheet.search_key = sheet.make_search_key()
    sheet.save(update_fields=[*changed, "version", "updated_at", "search_key"])
    sections = [s for s in Section.values if set(SECTION_FIELDS[Section(s)]) & set(changed)]
    sheet_event(
        AuditAction.SHEET_UPDATED,
        sheet=sheet,
        actor=staff.audit_actor(),
        sections=sections,
        fields=changed,
        **version_detail,
    )
    return sheet


@dataclass(frozen=True)
class SheetView:
    """What a reader gets: the sheet, the sections it may see, and their content only."""

    sheet: ReferralSheet
    sections: list[str]
    content: dict[str, dict[str, Any]]
    attachments: list[Attachment]
    is_owner: bool


@transaction.atomic
def sheet_view(*, staff: Staff, sheet_id: int, purpose: str = "view") -> SheetView:
    """Read a sheet: only the sections the staff member's agency may see; audited."""
    staff.require_role(*READERS, api_scope="sheets:read")
    readable = access.sheet_for(staff=staff, sheet_id=sheet_id)
    sheet, sections = readable.sheet, readable.sections
    is_owner = sheet.owner_agency_id == staff.agency.pk
    if is_owner:
        ordered = [s for s in Section.values if s in sections]
        content = sheet_content(sheet, ordered)
        attachments = list(sheet.attachments.all()) if Section.ATTACHMENTS in sections else []
    else:
        # Another agency reads what was provided to it, never the live sheet.
        content = snapshots.received_content(agency=staff.agency, sheet_id=sheet.pk)
        ordered = [s for s in Section.values if s in content and s in sections]
        content = {s: content[s] for s in ordered}
        attachments = snapshots.attachments_in(content)
        if Section.ATTACHMENTS in content:
            content[Section.ATTACHMENTS] = {}
    sheet_event(
        AuditAction.SHEET_VIEWED,
        sheet=sheet,
        actor=staff.audit_actor(),
        sections=ordered,
        via=purpose,
    )
    return SheetView(
        sheet=sheet,
        sections=ordered,
        content=content,
        attachments=attachments,
        is_owner=is_owner,
    )


@transaction.atomic
def attachment_add(
    *, staff: Staff, sheet_id: int, upload: UploadedFile, title: str, reason: str = ""
) -> Attachment:
    """Attach a file (PDF, image or text) to a sheet the staff member's agency owns."""
    staff.require_role(*SENDERS)
    sheet = access.sheet_owned_by(staff=staff, sheet_id=sheet_id, for_update=True)
    if upload.size is None or upload.size > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(field="file", limit=MAX_ATTACHMENT_BYTES)
    if upload.content_type not in ALLOWED_ATTACHMENT_TYPES or not _content_matches(upload):
        raise InvalidInput(field="file", content_type=upload.content_type)
    if sheet.is_locked and not reason.strip():
        raise SheetLocked(field="reason")
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    attachment = Attachment(
        sheet=sheet,
        title=title.strip()[:120] or "添付資料",
        content_type=upload.content_type,
        size=upload.size,
        sha256=digest.hexdigest(),
        uploaded_by=staff.user,
    )
    attachment.file.save("upload", upload, save=False)
    attachment.save()
    sheet_event(
        AuditAction.ATTACHMENT_ADDED,
        sheet=sheet,
        actor=staff.audit_actor(),
        sections=[Section.ATTACHMENTS],
        attachment_id=attachment.pk,
        **({"after_send": True} if sheet.is_locked else {}),
    )
    return attachment


@transaction.atomic
def attachment_open(*, staff: Staff, attachment_id: int) -> Attachment:
    """Check access to an attachment and audit the download; the caller streams the file."""
    staff.require_role(*READERS, api_scope="sheets:read")
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound()
    readable = access.sheet_for(staff=staff, sheet_id=attachment.sheet_id)
    sheet = readable.sheet
    if Section.ATTACHMENTS not in readable.sections:
        raise NotFound()
    if sheet.owner_agency_id != staff.agency.pk:
        # A receiver opens only the files a provision it still holds names.
        held = snapshots.received_content(
            agency=staff.agency, sheet_id=sheet.pk, sections=[Section.ATTACHMENTS]
        )
        if attachment.pk not in snapshots.attachment_ids(held):
            raise NotFound()
    sheet_event(
        AuditAction.ATTACHMENT_DOWNLOADED,
        sheet=sheet,
        actor=staff.audit_actor(),
        sections=[Section.ATTACHMENTS],
        attachment_id=attachment.pk,
    )
    return attachment
