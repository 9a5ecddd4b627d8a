"""Handoffs: inbox and outbox, the handoff page with its timeline, and the role's actions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from agencies.actors import CONSENT_RECORDERS, READERS, Staff
from agencies.eligibility import ELIGIBILITY_FIELD_LABELS
from agencies.errors import ConsentDoesNotCover, IllegalTransition, InvalidInput, NotAllowed
from agencies.models import Agency, Membership
from audit.models import AuditAction, AuditEvent
from consent.models import ConsentStatus
from consent.policy import REASON_LABELS
from consent.vocabulary import Basis, Section
from relay import services
from relay.forms import (
    CancelForm,
    CompleteForm,
    DeclineForm,
    HandoffFilterForm,
    NoteForm,
    ProgressForm,
    ReturnForm,
    UpdateForm,
)
from relay.list_rows import HandoffRow
from relay.models import Handoff, HandoffNote, ListScreen
from relay.reports import READ_ACTIONS, handoff_timeline
from relay.selectors import handoffs_inbox_for, handoffs_outbox_for, saved_filters_for
from relay.services.progress import ATTENDANCE_KINDS, ProgressList
from relay.states import ACTIONS as ACTION_RULES
from relay.states import (
    NOT_YET_SENT,
    RECEIVER_CAN_READ,
    CancelReason,
    DeclineReason,
    Outcome,
    Side,
    Status,
    actions_for,
    can_relay_onward,
)
from relay.views.base import paginate, query_without_page, staff_view
from relay.views.display import action_label, join_labels, person_name, section_blocks


def _filtering(request: HttpRequest) -> bool:
    return any(key != "page" and value for key, value in request.GET.items())


def _box(request: HttpRequest, staff: Staff, box: str) -> HttpResponse:
    """The inbox or the outbox, searchable by initials, school and grade, and by state."""
    inbox = box == "inbox"
    statuses = [s for s in Status.choices if not inbox or s[0] not in NOT_YET_SENT]
    form = HandoffFilterForm(request.GET if _filtering(request) else None, statuses=statuses)
    filters = form.filters()
    selector = handoffs_inbox_for if inbox else handoffs_outbox_for
    handoffs = selector(
        agency=staff.agency,
        statuses=[filters["status"]] if filters.get("status") else None,
        filters=filters,
    )
    screen = ListScreen.INBOX if inbox else ListScreen.OUTBOX
    columns = HandoffRow.COLUMNS if inbox else (*HandoffRow.COLUMNS, "returned")
    page = paginate(request, handoffs.select_related(None).values(*columns))
    page.object_list = [HandoffRow.from_values(row) for row in page.object_list]
    return render(
        request,
        "relay/handoffs/list.html",
        {
            "title": _("受信した引き継ぎ") if inbox else _("送付した引き継ぎ"),
            "box": box,
            "page": page,
            "qs": query_without_page(request),
            "filter_form": form,
            "filtering": _filtering(request),
            "saved_filters": saved_filters_for(user=staff.user, screen=screen)
            if staff.user
            else [],
            "screen": screen.value,
            "now": timezone.now(),
        },
    )


@staff_view(*READERS)
def inbox(request: HttpRequest, staff: Staff) -> HttpResponse:
    return _box(request, staff, "inbox")


@staff_view(*READERS)
def outbox(request: HttpRequest, staff: Staff) -> HttpResponse:
    return _box(request, staff, "outbox")


# --- Actions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One thing a user can do on a handoff page: its form and its service. Who may do it, and
    in which state, is the transition table's (relay.states)."""

    name: str
    label: Any
    form: type[forms.Form]
    run: Callable[[Staff, int, dict[str, Any]], Handoff]
    style: str = ""


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        Action(
            "acknowledge",
            gettext_lazy("受領を確認する"),
            NoteForm,
            lambda staff, pk, d: services.handoff_acknowledge(
                staff=staff, handoff_id=pk, note=d["note"]
            ),
        ),
        Action(
            "accept",
            gettext_lazy("受け入れる"),
            NoteForm,
            lambda staff, pk, d: services.handoff_accept(
                staff=staff, handoff_id=pk, note=d["note"]
            ),
            style="ok",
        ),
        Action(
            "decline",
            gettext_lazy("辞退する"),
            DeclineForm,
            lambda staff, pk, d: services.handoff_decline(
                staff=staff, handoff_id=pk, reason=d["reason"], note=d["note"]
            ),
            style="danger",
        ),
        Action(
            "complete",
            gettext_lazy("結果を記録して完了する"),
            CompleteForm,
            lambda staff, pk, d: services.handoff_complete(
                staff=staff, handoff_id=pk, outcome=d["outcome"], note=d["note"]
            ),
            style="ok",
        ),
        Action(
            "submit",
            gettext_lazy("送付する"),
            forms.Form,
            lambda staff, pk, d: services.handoff_submit(staff=staff, handoff_id=pk),
        ),
        Action(
            "approve",
            gettext_lazy("承認して送付する"),
            forms.Form,
            lambda staff, pk, d: services.handoff_approve(staff=staff, handoff_id=pk),
            style="ok",
        ),
        Action(
            "return",
            gettext_lazy("差し戻す"),
            ReturnForm,
            lambda staff, pk, d: services.handoff_return_to_draft(
                staff=staff, handoff_id=pk, note=d["note"]
            ),
        ),
        Action(
            "send_update",
            gettext_lazy("更新を送付する"),
            UpdateForm,
            lambda staff, pk, d: services.handoff_send_update(
                staff=staff, handoff_id=pk, note=d["note"]
            ),
        ),
        Action(
            "post_progress",
            gettext_lazy("経過を報告する"),
            ProgressForm,
            lambda staff, pk, d: services.handoff_progress_post(
                staff=staff,
                handoff_id=pk,
                status=d["status"],
                text=d["text"],
                attendance_month=d.get("attendance_month"),
                attendance_days=d.get("attendance_days"),
            ).handoff,
            style="ok",
        ),
        Action(
            "cancel",
            gettext_lazy("取り下げる"),
            CancelForm,
            lambda staff, pk, d: services.handoff_cancel(
                staff=staff, handoff_id=pk, reason=d["reason"], note=d["note"]
            ),
            style="danger",
        ),
    ]
}


def _side(handoff: Handoff, staff: Staff) -> Side | None:
    if handoff.from_agency_id == staff.agency.pk:
        return Side.SENDER
    if handoff.to_agency_id == staff.agency.pk:
        return Side.RECEIVER
    return None


def allowed_actions(*, handoff: Handoff, staff: Staff) -> list[str]:
    """The actions the user's agency and role allow on this hop, in its current state."""
    return actions_for(status=handoff.status, side=_side(handoff, staff), role=staff.role)


def _withdrawable_consent(handoff: Handoff, staff: Staff) -> Any:
    consent = handoff.consent
    if (
        consent is not None
        and consent.agency_id == staff.agency.pk
        and consent.basis == Basis.CONSENT
        and consent.status == ConsentStatus.ACTIVE
        and staff.role in CONSENT_RECORDERS
    ):
        return consent
    return None


def _consent_expired(handoff: Handoff, now: Any) -> bool:
    """The hop was sent under a record that has expired since: what was sent stays readable,
    nothing new goes out under it (the page says so next to the basis)."""
    consent = handoff.consent
    if consent is None or handoff.sent_at is None:
        return False
    return consent.status == ConsentStatus.EXPIRED or (
        consent.status == ConsentStatus.ACTIVE and consent.valid_until <= now
    )


# --- Timeline -------------------------------------------------------------------------------

_REASON_LABELS = {
    **dict(DeclineReason.choices),
    **dict(CancelReason.choices),
}
_OUTCOME_LABELS = dict(Outcome.choices)


@dataclass(frozen=True)
class TimelineEntry:
    at: Any
    action: str
    who: str
    note: str
    is_read: bool = False


def _timeline(handoff: Handoff, staff: Staff, as_sender: bool) -> list[TimelineEntry]:
    events = list(handoff_timeline(handoff=handoff, agency=staff.agency, as_sender=as_sender))
    agency_ids = {e.actor_agency_id for e in events} | {e.recipient_agency_id for e in events}
    wanted = [i for i in agency_ids if i is not None]
    names = dict(Agency.objects.filter(pk__in=wanted).values_list("pk", "name"))
    people = _staff_names({e.actor_user_id for e in events if e.actor_agency_id == staff.agency.pk})
    entries = []
    for event in events:
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                action=action_label(event.action, event.detail),
                who=_who(event, staff, names, people),
                note=_note(event, names),
                is_read=event.action in READ_ACTIONS,
            )
        )
    return entries


def _staff_names(user_ids: set[int | None]) -> dict[int, str]:
    """Staff members' names (family name first) by user id; those without one are left out."""
    wanted = [i for i in user_ids if i is not None]
    users = get_user_model().objects.filter(pk__in=wanted).only("last_name", "first_name")
    return {u.pk: name for u in users if (name := person_name(u))}


def _who(event: AuditEvent, staff: Staff, names: dict[int, str], people: dict[int, str]) -> str:
    """Who did it: another agency by its name only; the reader's own staff by their name (the
    login name only where no name is registered)."""
    if event.actor_kind == "system":
        return _("システム")
    agency = names.get(event.actor_agency_id or 0, "")
    if event.actor_agency_id == staff.agency.pk and event.actor_kind != "api_client":
        person = people.get(event.actor_user_id or 0) or event.actor_label
        if person:
            return f"{agency}({person})"
    if event.actor_kind == "api_client":
        return _("%(agency)s(API)") % {"agency": agency}
    return agency or "—"


def _note(event: AuditEvent, names: dict[int, str]) -> str:
    """The event's particulars in words: reasons, outcomes and sections by their labels, never
    the codes the audit detail stores them as (an unknown code is left out, not shown)."""
    detail = event.detail or {}
    parts = []
    if event.action == AuditAction.NOTIFICATION_QUEUED and event.recipient_agency_id:
        parts.append(_("宛先: %(a)s") % {"a": names.get(event.recipient_agency_id, "—")})
    if event.action in (AuditAction.ACCESS_GRANTED, AuditAction.ACCESS_REVOKED):
        parts.append(names.get(event.recipient_agency_id or 0, ""))
        if detail.get("reason") == "refused":
            parts.append(_("本人・保護者が提供を拒否したため"))
    elif event.action == AuditAction.HANDOFF_SEND_REFUSED:
        reason = REASON_LABELS.get(detail.get("reason", ""))
        parts.append(
            _("同意の範囲外(%(reason)s)") % {"reason": reason} if reason else _("同意の範囲外")
        )
        missing = [s for s in detail.get("missing_sections", []) if s in Section.values]
        if missing:
            parts.append(
                _("対象の項目: %(sections)s")
                % {"sections": join_labels([str(Section(s).label) for s in missing])}
            )
    elif "reason" in detail and detail["reason"] in _REASON_LABELS:
        parts.append(str(_REASON_LABELS[detail["reason"]]))
    if detail.get("outcome") in _OUTCOME_LABELS:
        parts.append(str(_OUTCOME_LABELS[detail["outcome"]]))
    if "level" in detail:
        parts.append(_("段階 %(n)s") % {"n": detail["level"]})
    return " · ".join(p for p in parts if p)


# --- The page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """Whom the receiver calls about a hop: the sending staff member by name (never a login
    ID), their direct line if registered, and the sending agency's number."""

    name: str
    direct: str
    agency_phone: str


def _sender_contact(handoff: Handoff) -> Contact | None:
    # The counselor who prepared and sent the hop: with a supervisor's approval, the approver
    # pressed the last button, but the person who knows the case is the one who wrote it.
    user = handoff.created_by or handoff.sent_by
    if handoff.sent_at is None or user is None:
        return None
    membership = Membership.objects.filter(user=user, agency_id=handoff.from_agency_id).first()
    return Contact(
        name=person_name(user),
        direct=membership.phone if membership is not None else "",
        agency_phone=handoff.from_agency.phone,
    )


def _notes(notes: list[HandoffNote], staff: Staff) -> list[dict[str, Any]]:
    """The hop's notes in order; the author named (not the login name) for the reader's own
    agency only, as in the timeline."""
    own = [n for n in notes if n.agency_id == staff.agency.pk]
    people = _staff_names({n.author_id for n in own})
    return [
        {
            "note": note,
            "author": (people.get(note.author_id or 0) or note.author_label)
            if note.agency_id == staff.agency.pk
            else "",
        }
        for note in notes
    ]


def _detail_context(
    request: HttpRequest, staff: Staff, handoff_id: int, bound: dict[str, forms.Form] | None = None
) -> dict[str, Any]:
    version = request.GET.get("version", "")
    view = services.handoff_view(
        staff=staff,
        handoff_id=handoff_id,
        version=int(version) if version.isdigit() and len(version) < 9 else None,
    )
    handoff = view.handoff
    names = allowed_actions(handoff=handoff, staff=staff)
    bound = bound or {}
    actions = [
        {"action": ACTIONS[name], "form": bound.get(name) or ACTIONS[name].form(prefix=name)}
        for name in names
    ]
    if "post_progress" in names:
        _fit_progress_form(actions[names.index("post_progress")]["form"], handoff)
    now = timezone.now()
    return {
        "view": view,
        "handoff": handoff,
        "as_sender": view.as_sender,
        "blocks": section_blocks(view.content),
        "actions": actions,
        "timeline": _timeline(handoff, staff, view.as_sender),
        "contact": _sender_contact(handoff),
        "can_relay_onward": can_relay_onward(
            status=handoff.status, side=_side(handoff, staff), role=staff.role
        ),
        "withdrawable_consent": _withdrawable_consent(handoff, staff) if view.as_sender else None,
        "overdue": handoff.status == Status.SENT
        and handoff.ack_due_at is not None
        and handoff.ack_due_at < now,
        "receiver_reads": handoff.status in RECEIVER_CAN_READ,
        "notes": _notes(view.notes, staff),
        "provision": view.provision,
        "versions": view.versions,
        "is_latest": view.provision is None
        or not view.versions
        or view.provision.version == view.versions[-1].version,
        "consent_expired": _consent_expired(handoff, now),
        "eligibility_fields": "、".join(
            str(ELIGIBILITY_FIELD_LABELS.get(rule.get("field", ""), rule.get("field", "")))
            for rule in handoff.eligibility_overridden
        ),
        "progress": _progress(staff, handoff),
        "children": handoff.onward.select_related("to_agency").order_by("id")
        if view.as_sender or handoff.to_agency_id == staff.agency.pk
        else [],
    }


def _fit_progress_form(form: Any, handoff: Handoff) -> None:
    """Attendance days are an education support center's report: other receivers' forms
    leave those fields out."""
    if handoff.to_agency.kind not in ATTENDANCE_KINDS:
        for name in ("attendance_month", "attendance_days"):
            form.fields.pop(name, None)


def _progress(staff: Staff, handoff: Handoff) -> ProgressList | None:
    """The updates timeline (relay.services.progress decides what this reader sees)."""
    if handoff.accepted_at is None:
        return None
    return services.handoff_progress_list(staff=staff, handoff_id=handoff.pk)


@staff_view(*READERS)
def handoff_detail(request: HttpRequest, staff: Staff, handoff_id: int) -> HttpResponse:
    return render(
        request, "relay/handoffs/detail.html", _detail_context(request, staff, handoff_id)
    )


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _done_message(name: str, hop: Handoff) -> str:
    """What the user just did, said as a sentence (never the button's label in quotes)."""
    if name == "submit" and hop.status == Status.AWAITING_APPROVAL:
        return _("管理職に送付の承認を依頼しました。")
    done = {
        "acknowledge": _("受領を確認しました。送付元に伝わります。"),
        "accept": _("引き継ぎを受け入れました。"),
        "decline": _("引き継ぎを辞退しました。送付元に伝わります。"),
        "complete": _("結果を記録し、引き継ぎを完了しました。"),
        "submit": _("送付しました。"),
        "approve": _("承認して送付しました。"),
        "return": _("下書きに差し戻しました。"),
        "cancel": _("引き継ぎを取り下げました。"),
        "post_progress": _("経過を記録しました。"),
    }
    return str(done.get(name, _("記録しました。")))


@require_POST
@staff_view(*READERS)
def handoff_action(request: HttpRequest, staff: Staff, handoff_id: int, name: str) -> HttpResponse:
    """Run one action through its service; a form error re-renders the page next to the field."""
    action = ACTIONS.get(name)
    if action is None:
        raise Http404()
    if staff.role not in ACTION_RULES[name].roles:
        raise NotAllowed()
    # Beyond the role, the service decides (404 for other agencies, 403 for the wrong side of
    # the hop, IllegalTransition for the wrong state): the view does not second-guess it.
    form = action.form(request.POST, prefix=name)
    default_next = reverse("relay:handoff-detail", args=[handoff_id])
    if form.is_valid():
        try:
            hop = action.run(staff, handoff_id, form.cleaned_data)
        except ConsentDoesNotCover as exc:
            messages.error(request, _("送付できませんでした: %(reason)s") % {"reason": exc})
        except IllegalTransition:
            messages.error(
                request, _("現在の状態ではこの操作はできません(画面を更新してください)。")
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, _done_message(name, hop))
            return redirect(_next_url(request, default_next))
        if not form.errors:
            return redirect(_next_url(request, default_next))
    context = _detail_context(request, staff, handoff_id, bound={name: form})
    return render(request, "relay/handoffs/detail.html", context, status=400)
