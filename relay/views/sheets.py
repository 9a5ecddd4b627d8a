"""Sheets: the list, the new-sheet form, a sheet's page, edits (versioned once sent), files."""

from __future__ import annotations

import mimetypes
from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.actors import CONSENT_RECORDERS, READERS, SENDERS, Staff
from agencies.errors import InvalidInput, NotFound, SheetLocked
from agencies.models import Role
from consent.vocabulary import SPECIAL_CARE_SECTIONS, Section
from relay import access, services
from relay.forms import AttachmentForm, SheetFilterForm, SheetForm
from relay.models import ListScreen, ReferralSheet
from relay.sections import SECTION_FIELDS
from relay.selectors import (
    counselors_of,
    handoffs_of_sheet_for,
    saved_filters_for,
    sheets_owned_by,
    sheets_visible_to,
    special_care_readers,
)
from relay.services import desks
from relay.views.base import paginate, query_without_page, staff_view
from relay.views.desk import intake_sheet_initial, intake_to_sheet
from relay.views.display import person_name, section_blocks, section_label
from relay.views.queries import consents_of_sheet


@staff_view(*READERS)
def sheet_list(request: HttpRequest, staff: Staff) -> HttpResponse:
    """The agency's own sheets (searchable, filterable) and the sheets others shared with it."""
    received = []
    seen: set[int] = set()
    for row in sheets_visible_to(agency=staff.agency).filter(handoff__isnull=False)[:200]:
        if row.sheet_id not in seen:
            seen.add(row.sheet_id)
            received.append(row)
    form = SheetFilterForm(
        request.GET if _filtering(request) else None, counselors=counselors_of(staff.agency)
    )
    return render(
        request,
        "relay/sheets/list.html",
        {
            "page": paginate(request, sheets_owned_by(agency=staff.agency, filters=form.filters())),
            "received": received,
            "can_create": staff.role in SENDERS,
            "filter_form": form,
            "filtering": _filtering(request),
            "qs": query_without_page(request),
            "saved_filters": saved_filters_for(user=staff.user, screen=ListScreen.SHEETS)
            if staff.user
            else [],
            "screen": ListScreen.SHEETS.value,
        },
    )


def _filtering(request: HttpRequest) -> bool:
    return any(key != "page" and value for key, value in request.GET.items())


def _fieldsets(form: SheetForm) -> list[dict[str, object]]:
    """The form's fields grouped by the sheet's named sections, as fieldsets."""
    groups = []
    for section, names in SECTION_FIELDS.items():
        if not names:
            continue
        groups.append(
            {
                "code": section.value,
                "label": Section(section).label,
                "special_care": section in SPECIAL_CARE_SECTIONS,
                "fields": [
                    {"field": form[name], "wide": _is_wide(form, name)}
                    for name in names
                    if name in form.fields
                ],
            }
        )
    return groups


def _is_wide(form: SheetForm, name: str) -> bool:
    """Free text, checkbox lists and the full name take a whole row; the rest share rows."""
    widget = form.fields[name].widget
    return name == "subject_full_name" or isinstance(
        widget, forms.Textarea | forms.CheckboxSelectMultiple
    )


def _apply_error(form: SheetForm | AttachmentForm, exc: InvalidInput | SheetLocked) -> None:
    field = getattr(exc, "field", "") or exc.context.get("field", "")
    errors = exc.context.get("errors")
    if isinstance(errors, dict):
        for name, messages_ in errors.items():
            for message in messages_:
                form.add_error(name if name in form.fields else None, message)
        return
    form.add_error(field if field in form.fields else None, str(exc))


@staff_view(*SENDERS)
def sheet_new(request: HttpRequest, staff: Staff) -> HttpResponse:
    # A routing desk's sheet for an intake record starts from what the person wrote.
    intake = intake_to_sheet(staff, request.GET.get("intake", ""))
    initial = intake_sheet_initial(intake, staff) if intake is not None else None
    form = SheetForm(request.POST or None, instance=ReferralSheet(), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if intake is not None:
                sheet = desks.sheet_create_from_intake(
                    staff=staff, intake_id=intake.pk, data=form.content()
                )
            else:
                sheet = services.sheet_create(staff=staff, data=form.content())
        except InvalidInput as exc:
            _apply_error(form, exc)
        else:
            messages.success(
                request,
                _("シート #%(id)s を保存しました。次に、本人・保護者の同意を記録してください。")
                % {"id": sheet.pk},
            )
            return redirect("relay:sheet-detail", sheet.pk)
    return render(
        request,
        "relay/sheets/form.html",
        {"form": form, "fieldsets": _fieldsets(form), "sheet": None, "intake": intake},
        status=400 if form.errors else 200,
    )


@staff_view(*READERS)
def sheet_detail(request: HttpRequest, staff: Staff, sheet_id: int) -> HttpResponse:
    view = services.sheet_view(staff=staff, sheet_id=sheet_id)
    sheet = view.sheet
    context = {
        "view": view,
        "sheet": sheet,
        "blocks": section_blocks(view.content),
        "handoffs": handoffs_of_sheet_for(agency=staff.agency, sheet=sheet),
        "can_send": staff.role in SENDERS,
        "can_edit": view.is_owner and staff.role in SENDERS,
        "is_supervisor": staff.role == Role.SUPERVISOR,
        # The owner sees every record of its sheet (a holder's read-only); a holder sees the
        # records it made itself, never the owner's (they name who consented, and to whom).
        "consents": consents_of_sheet(sheet=sheet, agency=None if view.is_owner else staff.agency),
        "can_record_consent": staff.role in CONSENT_RECORDERS
        and (view.is_owner or bool(access.held_sections(agency=staff.agency, sheet_id=sheet.pk))),
        "my_agency_id": staff.agency.pk,
        "is_recorder": staff.role in CONSENT_RECORDERS,
        "versions": sheet.versions.all() if view.is_owner else [],
        "special_care": special_care_readers(sheet=sheet) if view.is_owner else None,
        "sees_special_care": access.sees_special_care(staff),
        "attachment_form": AttachmentForm(locked=sheet.is_locked)
        if view.is_owner and staff.role in SENDERS
        else None,
    }
    return render(request, "relay/sheets/detail.html", context)


@staff_view(*SENDERS)
def sheet_edit(request: HttpRequest, staff: Staff, sheet_id: int) -> HttpResponse:
    view = services.sheet_view(staff=staff, sheet_id=sheet_id, purpose="edit")
    if not view.is_owner:
        raise NotFound()
    sheet = view.sheet
    form = SheetForm(request.POST or None, instance=sheet, locked=sheet.is_locked)
    if request.method == "POST" and form.is_valid():
        try:
            services.sheet_update(
                staff=staff,
                sheet_id=sheet.pk,
                data=form.content(),
                reason=form.cleaned_data.get("reason", ""),
            )
        except (InvalidInput, SheetLocked) as exc:
            _apply_error(form, exc)
        else:
            if sheet.is_locked:
                messages.success(
                    request,
                    _(
                        "シート #%(id)s を更新しました。送付先には自動では届きません。"
                        "届けるときは、同意の範囲を確かめてから送付します。"
                    )
                    % {"id": sheet.pk},
                )
            else:
                messages.success(request, _("シート #%(id)s を更新しました。") % {"id": sheet.pk})
            return redirect("relay:sheet-detail", sheet.pk)
    return render(
        request,
        "relay/sheets/form.html",
        {"form": form, "fieldsets": _fieldsets(form), "sheet": sheet},
        status=400 if form.errors else 200,
    )


@require_POST
@staff_view(*SENDERS)
def attachment_new(request: HttpRequest, staff: Staff, sheet_id: int) -> HttpResponse:
    sheet = access.sheet_owned_by(staff=staff, sheet_id=sheet_id)
    form = AttachmentForm(request.POST, request.FILES, locked=sheet.is_locked)
    if form.is_valid():
        try:
            services.attachment_add(
                staff=staff,
                sheet_id=sheet.pk,
                upload=form.cleaned_data["file"],
                title=form.cleaned_data["title"],
                reason=form.cleaned_data.get("reason", ""),
            )
        except (InvalidInput, SheetLocked) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("添付資料を追加しました。"))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("relay:sheet-detail", sheet.pk)


@staff_view(*READERS)
def attachment_download(request: HttpRequest, staff: Staff, attachment_id: int) -> HttpResponseBase:
    """Stream a file after the access check; the download is audited by the service."""
    attachment = services.attachment_open(staff=staff, attachment_id=attachment_id)
    extension = mimetypes.guess_extension(attachment.content_type) or ""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=f"tsunagu-sheet{attachment.sheet_id}-attachment{attachment.pk}{extension}",
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@staff_view(*READERS)
def sheet_print(request: HttpRequest, staff: Staff, sheet_id: int) -> HttpResponse:
    """The sheet on paper (つなぐシート/相談シート) with the manager's sign-off box, for the
    agencies that still file paper. Only sections the reader may see; the reader may leave
    some out (?sections=...). Audited as a read "via print"."""
    view = services.sheet_view(staff=staff, sheet_id=sheet_id, purpose="print")
    chosen = [s for s in request.GET.getlist("sections") if s in view.sections] or view.sections
    content = {code: fields for code, fields in view.content.items() if code in chosen}
    context = {
        "view": view,
        "sheet": view.sheet,
        "blocks": section_blocks(content),
        "chosen": chosen,
        "choices": [(code, section_label(code)) for code in view.sections],
        "author": _person_name(view.sheet.created_by) if view.is_owner else "",
        "today": timezone.localdate(),
    }
    return render(request, "relay/sheets/print.html", context)


def _person_name(user: Any) -> str:
    if user is None:
        return ""
    return person_name(user) or user.get_username()
