"""Progress after acceptance: the receiver posts updates, the sender reads them under consent.

An update is a provision back to the sender: the consent policy (consent.policy.permits, the
one function) is asked, inside the posting transaction and under the sheet's lock, whether the
section "progress" may go to the hop's sender for the hop's purpose. Refused, the update is
kept at the receiver and the sender sees only that one was posted (its time), never its
status, attendance or text; a later consent does not reveal it (it was not given). An update
the sender was given stays readable while the policy still permits, or after the record it
went under merely expired (what was sent stays readable); a withdrawal or a later refusal
hides it again. Posting restarts the hop's monthly progress clock (relay.escalation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.actors import READERS, Staff
from agencies.errors import IllegalTransition, InvalidInput
from agencies.models import AgencyKind
from audit.models import AuditAction
from consent.policy import PolicyDecision, permits
from consent.vocabulary import Section
from relay import access, escalation
from relay.audit_events import handoff_event
from relay.models import Handoff, ProgressStatus, ProgressUpdate
from relay.models.progress import TEXT_MAX_LENGTH
from relay.services.handoffs import _require, _take, _tell
from relay.services.transactions import workflow_transaction
from relay.states import Status

PROGRESS_EVENT = "handoff.progress_posted"
# The agency kinds that report attendance days per month (もくせい教室's monthly report).
ATTENDANCE_KINDS = frozenset({AgencyKind.EDUCATION_SUPPORT})


def _decision(handoff: Handoff, *, at: datetime, lock: bool) -> PolicyDecision:
    """May the hop's progress go back to its sender, for the hop's purpose, at `at`?"""
    return permits(
        sheet_id=handoff.sheet_id,
        sender=handoff.to_agency,
        recipient=handoff.from_agency,
        sections=[Section.PROGRESS],
        purpose=handoff.purpose,
        at=at,
        lock=lock,
    )


def sender_still_reads(decision: PolicyDecision) -> bool:
    """What the sender was given stays readable while the policy permits, or when the only
    reason it would not is expiry (expiry stops new sends, not what was sent)."""
    return bool(decision) or decision.reason == "expired"


def _clean(
    *,
    handoff: Handoff,
    status: str,
    text: str,
    attendance_month: date | None,
    attendance_days: int | None,
    today: date,
) -> tuple[str, date | None]:
    """The same rules for every write path (web form, API); the first fault raises."""
    if status not in ProgressStatus.values:
        raise InvalidInput(_("状況を選んでください。"), field="status")
    text = text.strip()
    if len(text) > TEXT_MAX_LENGTH:
        raise InvalidInput(
            _("経過は%(n)s文字以内で記入してください。") % {"n": TEXT_MAX_LENGTH}, field="text"
        )
    if attendance_month is None and attendance_days is None:
        return text, None
    if handoff.to_agency.kind not in ATTENDANCE_KINDS:
        raise InvalidInput(_("通所日数は教育支援センターが記録します。"), field="attendance_month")
    if attendance_month is None:
        raise InvalidInput(_("通所日数の対象月を入力してください。"), field="attendance_month")
    if attendance_days is None:
        raise InvalidInput(_("通所日数を入力してください。"), field="attendance_days")
    month = attendance_month.replace(day=1)
    if month > today.replace(day=1):
        raise InvalidInput(
            _("まだ来ていない月の通所日数は記録できません。"), field="attendance_month"
        )
    next_month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    if not 0 <= attendance_days <= (next_month - month).days:
        raise InvalidInput(
            _("通所日数はその月の日数以内で入力してください。"), field="attendance_days"
        )
    return text, month


@workflow_transaction
def _post_locked(
    staff: Staff,
    handoff_id: int,
    *,
    status: str,
    text: str,
    attendance_month: date | None,
    attendance_days: int | None,
) -> ProgressUpdate:
    handoff = _take(staff, handoff_id, "post_progress")  # the sheet, then the hop, locked
    if handoff.status != Status.ACCEPTED:
        raise IllegalTransition(current=handoff.status)
    now = timezone.now()
    text, month = _clean(
        handoff=handoff,
        status=status,
        text=text,
        attendance_month=attendance_month,
        attendance_days=attendance_days,
        today=timezone.localdate(now),
    )
    decision = _decision(handoff, at=now, lock=True)
    update = ProgressUpdate.objects.create(
        handoff=handoff,
        status=status,
        text=text,
        attendance_month=month,
        attendance_days=attendance_days if month is not None else None,
        shared_with_sender=bool(decision),
        consent=decision.record,
        refusal_reason="" if decision else decision.reason,
        agency=staff.agency,
        author=staff.user,
        author_label=staff.audit_actor().label[:150],
        created_at=now,
    )
    handoff.save(update_fields=["updated_at"])  # partners polling updated_since see it
    escalation.progress_clock_start(handoff, since=now)  # reset: next one due a month on
    handoff_event(
        AuditAction.HANDOFF_PROGRESS_POSTED,
        handoff=handoff,
        actor=staff.audit_actor(),
        progress_id=update.pk,
        shared_with_sender=update.shared_with_sender,
        **(
            {"progress_consent_id": decision.record.pk}
            if decision.record is not None
            else {"refusal_reason": decision.reason}
        ),
    )
    # That an update exists, and where: never its status, days or words.
    _tell(
        PROGRESS_EVENT,
        handoff,
        agency=handoff.from_agency,
        staff=staff,
        progress_id=update.pk,
        shared=update.shared_with_sender,
    )
    return update


def handoff_progress_post(
    *,
    staff: Staff,
    handoff_id: int,
    status: str,
    text: str = "",
    attendance_month: date | None = None,
    attendance_days: int | None = None,
) -> ProgressUpdate:
    """The receiver of an accepted hop reports progress (a status, a short text and, for an
    education support center, the attendance days of a month). It reaches the sender only
    if consent covers "progress" to the sender for the hop's purpose; otherwise it is kept
    at the receiver and the sender learns only that an update was posted."""
    _require(staff, "post_progress")
    return _post_locked(
        staff,
        handoff_id,
        status=status,
        text=text,
        attendance_month=attendance_month,
        attendance_days=attendance_days,
    )


@dataclass(frozen=True)
class ProgressEntry:
    """One update as its reader may see it: `readable` False is "an update was posted"."""

    update: ProgressUpdate
    readable: bool
    own: bool

    @property
    def withheld(self) -> bool:
        """Posted without consent to share it: the sender never sees it."""
        return not self.update.shared_with_sender


@dataclass(frozen=True)
class ProgressList:
    handoff: Handoff
    entries: list[ProgressEntry]
    as_receiver: bool


@transaction.atomic
def handoff_progress_list(*, staff: Staff, handoff_id: int) -> ProgressList:
    """The hop's updates, oldest first, for one of its parties: the receiver all of its own;
    the sender each one it was given, while it may still read it (see the module's rule).
    Another agency's hop is NotFound. A read that shows any content is audited (ids)."""
    staff.require_role(*READERS, api_scope="updates:read")
    handoff = access.handoff_for(staff=staff, handoff_id=handoff_id)
    as_receiver = handoff.to_agency_id == staff.agency.pk
    updates = list(ProgressUpdate.objects.filter(handoff=handoff).order_by("created_at", "id"))
    sender_reads = False
    if updates and not as_receiver and any(u.shared_with_sender for u in updates):
        sender_reads = sender_still_reads(_decision(handoff, at=timezone.now(), lock=False))
    entries = [
        ProgressEntry(
            update=u,
            readable=as_receiver or (u.shared_with_sender and sender_reads),
            own=as_receiver,
        )
        for u in updates
    ]
    shown = [e.update.pk for e in entries if e.readable]
    if shown:
        handoff_event(
            AuditAction.HANDOFF_PROGRESS_VIEWED,
            handoff=handoff,
            actor=staff.audit_actor(),
            progress_ids=shown,
        )
    return ProgressList(handoff=handoff, entries=entries, as_receiver=as_receiver)
