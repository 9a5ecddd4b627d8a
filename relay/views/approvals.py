"""The supervisor's approval queue: hops waiting for sign-off, with the context to decide, and
lawful bases waiting for a second person. Approving several at once asks once, and each
approval is still its own service call and audit event."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.actors import Staff
from agencies.errors import WorkflowError
from agencies.models import Role
from relay import services
from relay.selectors import handoffs_awaiting_approval_for
from relay.views.base import staff_view
from relay.views.queries import pending_lawful_bases_for

MAX_BULK = 50


@staff_view(Role.SUPERVISOR)
def approvals(request: HttpRequest, staff: Staff) -> HttpResponse:
    return render(
        request,
        "relay/supervisor/approvals.html",
        {
            "handoffs": handoffs_awaiting_approval_for(agency=staff.agency),
            "bases": pending_lawful_bases_for(agency=staff.agency),
            "now": timezone.now(),
        },
    )


def _chosen_ids(request: HttpRequest) -> list[int]:
    ids = []
    for value in request.POST.getlist("handoff"):
        if value.isdigit() and int(value) not in ids:
            ids.append(int(value))
    return ids[:MAX_BULK]


@require_POST
@staff_view(Role.SUPERVISOR)
def approve_many(request: HttpRequest, staff: Staff) -> HttpResponse:
    """First POST: show what was chosen and ask once. Second (confirmed): approve each in turn,
    each its own transaction, consent check and audit event; say which went and which not."""
    ids = _chosen_ids(request)
    if not ids:
        messages.error(request, _("承認する引き継ぎを選んでください。"))
        return redirect("relay:approvals")
    waiting = {h.pk: h for h in handoffs_awaiting_approval_for(agency=staff.agency)}
    chosen = [waiting[i] for i in ids if i in waiting]
    if request.POST.get("confirmed") != "yes":
        return render(
            request,
            "relay/supervisor/approve_many.html",
            {"handoffs": chosen, "gone": len(ids) - len(chosen), "now": timezone.now()},
        )
    sent, refused = [], []
    for handoff_id in ids:
        try:
            services.handoff_approve(staff=staff, handoff_id=handoff_id)
        except WorkflowError as exc:
            refused.append(_("#%(id)s: %(reason)s") % {"id": handoff_id, "reason": exc})
        else:
            sent.append(handoff_id)
    if sent:
        messages.success(
            request,
            _("%(n)s 件の引き継ぎを承認し、送付しました。") % {"n": len(sent)},
        )
    for reason in refused:
        messages.error(request, _("承認できませんでした: %(reason)s") % {"reason": reason})
    return redirect("relay:approvals")
