"""Home: what needs the user's attention today, for their agency and role."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.utils import timezone

from agencies.actors import SENDERS, Staff
from agencies.models import Role
from relay.selectors import (
    handoffs_awaiting_approval_for,
    handoffs_inbox_for,
    handoffs_outbox_for,
    handoffs_overdue_for,
    hop_chains_for,
    sheets_owned_by,
)
from relay.states import Status
from relay.views.base import staff_view
from relay.views.queries import pending_lawful_bases_for

LIST_SIZE = 8


@staff_view()
def home(request: HttpRequest, staff: Staff) -> HttpResponse:
    agency = staff.agency
    inbox_new = handoffs_inbox_for(agency=agency, statuses=[Status.SENT])
    in_progress = handoffs_inbox_for(agency=agency, statuses=[Status.ACKNOWLEDGED, Status.ACCEPTED])
    overdue = handoffs_overdue_for(agency=agency)
    awaiting = handoffs_awaiting_approval_for(agency=agency)
    returned = handoffs_outbox_for(agency=agency, statuses=[Status.DRAFT])
    sent = handoffs_outbox_for(agency=agency).exclude(status=Status.DRAFT)
    is_sender = staff.role in SENDERS
    is_supervisor = staff.role == Role.SUPERVISOR
    bases = pending_lawful_bases_for(agency=agency) if is_supervisor else None
    recent_sheets = list(sheets_owned_by(agency=agency)[:5]) if is_sender else []
    chains = hop_chains_for(agency=agency, sheets=recent_sheets)
    context = {
        "staff": staff,
        "is_sender": is_sender,
        "is_supervisor": is_supervisor,
        "inbox_new": inbox_new[:LIST_SIZE],
        "inbox_new_count": inbox_new.count(),
        "in_progress": in_progress[:LIST_SIZE],
        "in_progress_count": in_progress.count(),
        "overdue": overdue[:LIST_SIZE],
        "overdue_count": overdue.count(),
        "awaiting": awaiting[:LIST_SIZE],
        "awaiting_count": awaiting.count(),
        "bases": bases[:LIST_SIZE] if bases is not None else [],
        "bases_count": bases.count() if bases is not None else 0,
        "returned": returned[:LIST_SIZE] if is_sender else [],
        "sent": sent[:LIST_SIZE],
        "sheets": recent_sheets,
        "chains": [(s, chains.get(s.pk, [])) for s in recent_sheets if chains.get(s.pk)],
        "now": timezone.now(),
    }
    return render(request, "relay/home.html", context)


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which tools and old browsers ask for: the site's icon (resolved per
    request, so the manifest storage is read only once collectstatic has run)."""
    return HttpResponsePermanentRedirect(static("relay/favicon.svg"))
