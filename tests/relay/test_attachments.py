"""Attachments are stored privately and opened only through an access check that is audited."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from agencies.errors import InvalidInput, NotFound, SheetLocked
from audit.models import AuditAction, AuditEvent
from relay import services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }


def _pdf(name: str = "診断書_明石太郎.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 test", content_type="application/pdf")


def test_attachment_is_opened_only_where_the_section_is_shared(net) -> None:
    sheet = net.sheet()
    attachment = services.attachment_add(
        staff=net.counselor, sheet_id=sheet.pk, upload=_pdf(), title="学校からの資料"
    )
    # The stored name never carries the uploaded file name (it may hold a person's name).
    assert "明石" not in attachment.file.name and attachment.size == 13

    net.consent(sheet, to=[net.npo, net.guidance], sections=["basic", "attachments"])
    net.send(sheet, to=net.npo, sections=["basic", "attachments"])
    net.send(sheet, to=net.guidance, sections=["basic"])

    opened = services.attachment_open(staff=net.npo_intake, attachment_id=attachment.pk)
    assert opened.file.read() == b"%PDF-1.4 test"
    event = AuditEvent.objects.filter(action=AuditAction.ATTACHMENT_DOWNLOADED).get()
    assert event.actor_agency_id == net.npo.pk and event.detail["attachment_id"] == attachment.pk

    for outsider in (net.guidance_intake, net.welfare_intake):
        with pytest.raises(NotFound):
            services.attachment_open(staff=outsider, attachment_id=attachment.pk)
    assert AuditEvent.objects.filter(action=AuditAction.ATTACHMENT_DOWNLOADED).count() == 1


def test_unsafe_types_are_refused_and_late_additions_need_a_reason(net) -> None:
    sheet = net.sheet()
    with pytest.raises(InvalidInput) as bad:
        services.attachment_add(
            staff=net.counselor,
            sheet_id=sheet.pk,
            title="x",
            upload=SimpleUploadedFile("a.html", b"<script>", content_type="text/html"),
        )
    assert bad.value.field == "file"
    with pytest.raises(InvalidInput):  # declared as a PDF, but it is not one
        services.attachment_add(
            staff=net.counselor,
            sheet_id=sheet.pk,
            title="x",
            upload=SimpleUploadedFile("a.pdf", b"<html><script>", content_type="application/pdf"),
        )
    net.consent(sheet)
    net.send(sheet)
    with pytest.raises(SheetLocked):
        services.attachment_add(staff=net.counselor, sheet_id=sheet.pk, upload=_pdf(), title="x")
    services.attachment_add(
        staff=net.counselor, sheet_id=sheet.pk, upload=_pdf(), title="x", reason="追加資料"
    )
