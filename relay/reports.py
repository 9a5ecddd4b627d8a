"""Read-only reports for supervisors: the audit events an agency may see and the relay metrics.
Nothing here writes. (The APPI records of provision and receipt are relay.provision; exports,
and their audit events, are relay.services.exports.)
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency, AgencyKind
from audit.models import AuditAction, AuditEvent
from relay.models import Handoff, ProgressUpdate, ReferralSheet
from relay.models.progress import CONNECTED
from relay.states import DeclineReason, Outcome, Status

# Reads are an agency's own business: another agency never sees who read what over there.
READ_ACTIONS = frozenset(
    {
        AuditAction.SHEET_VIEWED,
        AuditAction.HANDOFF_VIEWED,
        AuditAction.HANDOFF_PROGRESS_VIEWED,
        AuditAction.ATTACHMENT_DOWNLOADED,
    }
)


def _others_reads(agency: Agency) -> Q:
    return Q(action__in=list(READ_ACTIONS)) & ~Q(actor_agency_id=agency.pk)


# What another agency did about a hop after it was sent: the parties of the hop may see it.
_AFTER_SEND = frozenset(
    {
        AuditAction.HANDOFF_SENT,
        AuditAction.HANDOFF_UPDATED,
        AuditAction.HANDOFF_ACKNOWLEDGED,
        AuditAction.HANDOFF_ACCEPTED,
        AuditAction.HANDOFF_DECLINED,
        AuditAction.HANDOFF_COMPLETED,
        AuditAction.HANDOFF_WITHDRAWN,
        AuditAction.HANDOFF_ESCALATED,
        AuditAction.HANDOFF_PROGRESS_POSTED,
    }
)


def audit_events_visible_to(*, agency: Agency) -> QuerySet[AuditEvent]:
    """What an agency's supervisor may see of the trail, newest first.

    Everything its own staff, keys and logins did. Of other agencies' (and the system's)
    events, only those about hops it is a party to from the moment they were sent (sends,
    updates, answers, escalations, withdrawals, a cancellation of a sent hop), the grants
    and revocations of its own access, the notices addressed to it, and the system's events
    on its own sheets (consent expiry). Never another agency's drafts, submissions,
    approvals, returns, refusals or reads.
    """
    party = Q(recipient_agency_id=agency.pk) | Q(detail__from_agency_id=agency.pk)
    about_sent_hops = (
        Q(object_type="handoff")
        & party
        & (
            Q(action__in=list(_AFTER_SEND))
            | Q(action=AuditAction.HANDOFF_CANCELLED, detail__was_sent=True)
        )
    )
    to_it = Q(recipient_agency_id=agency.pk) & Q(
        action__in=[
            AuditAction.ACCESS_GRANTED,
            AuditAction.ACCESS_REVOKED,
            AuditAction.NOTIFICATION_QUEUED,
        ]
    )
    owned = ReferralSheet.objects.filter(owner_agency=agency).values("pk")
    system_on_own_sheets = Q(actor_kind="system", sheet_id__in=owned) & ~Q(
        action__in=list(READ_ACTIONS)
    )
    others = ~Q(actor_agency_id=agency.pk) | Q(actor_agency_id__isnull=True)
    return AuditEvent.objects.filter(
        Q(actor_agency_id=agency.pk) | (others & (about_sent_hops | to_it | system_on_own_sheets))
    ).order_by("-id")


def audit_event_branches(*, agency: Agency) -> list[QuerySet[AuditEvent]]:
    """The same events as audit_events_visible_to, as disjoint-or-overlapping branches that
    each read one index newest first: the agency's own events (actor agency), others' events
    addressed to it (recipient agency), others' events on hops it sent (the sending agency in
    the event's detail), and the system's events on its own sheets. A page reads the newest
    few of each and merges them (relay.views.base.Branches), so its cost is the page's, not
    the trail's: the OR of audit_events_visible_to made PostgreSQL scan the whole month."""
    after_send = Q(object_type="handoff") & (
        Q(action__in=list(_AFTER_SEND))
        | Q(action=AuditAction.HANDOFF_CANCELLED, detail__was_sent=True)
    )
    to_it = Q(
        action__in=[
            AuditAction.ACCESS_GRANTED,
            AuditAction.ACCESS_REVOKED,
            AuditAction.NOTIFICATION_QUEUED,
        ]
    )
    others = ~Q(actor_agency_id=agency.pk) | Q(actor_agency_id__isnull=True)
    owned = ReferralSheet.objects.filter(owner_agency=agency).values("pk")
    events = AuditEvent.objects.all()
    return [
        events.filter(actor_agency_id=agency.pk),
        events.filter(others, after_send | to_it, recipient_agency_id=agency.pk),
        events.alias(from_agency=KeyTextTransform("from_agency_id", "detail")).filter(
            others, after_send, from_agency=str(agency.pk)
        ),
        events.filter(others, actor_kind="system", sheet_id__in=owned).exclude(
            action__in=list(READ_ACTIONS)
        ),
    ]


# What the receiving agency's staff see of a hop: what people did about it once it was sent
# (sent, a new version, the answers, the outcome, a cancellation or a stop by withdrawn
# consent). Never the sender's drafting and sign-off, the system's bookkeeping (grants of
# access, queued notices, escalation steps) or reads, its own included; its notes are
# HandoffNote rows, shown with the hop.
RECEIVER_TIMELINE = frozenset(
    {
        AuditAction.HANDOFF_SENT,
        AuditAction.HANDOFF_UPDATED,
        AuditAction.HANDOFF_ACKNOWLEDGED,
        AuditAction.HANDOFF_ACCEPTED,
        AuditAction.HANDOFF_DECLINED,
        AuditAction.HANDOFF_COMPLETED,
        AuditAction.HANDOFF_CANCELLED,
        AuditAction.HANDOFF_WITHDRAWN,
        AuditAction.HANDOFF_PROGRESS_POSTED,
    }
)


def handoff_timeline(*, handoff: Handoff, agency: Agency, as_sender: bool) -> QuerySet[AuditEvent]:
    """The hop's history from the audit trail, as far as the reading agency may know it: the
    sender its full record but another agency's reads; the receiver the people-facing events."""
    if not as_sender:
        return AuditEvent.objects.filter(
            object_type="handoff",
            object_id=str(handoff.pk),
            action__in=list(RECEIVER_TIMELINE),
        ).order_by("id")
    events = AuditEvent.objects.filter(
        Q(object_type="handoff", object_id=str(handoff.pk))
        | Q(
            action__in=[AuditAction.ACCESS_GRANTED, AuditAction.ACCESS_REVOKED],
            sheet_id=handoff.sheet_id,
            detail__handoff_id=handoff.pk,
        )
    ).exclude(_others_reads(agency))
    return events.order_by("id")


# --- Metrics --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


# Small numbers are not published: a count under 5 could point at a person (the same rule as
# the ward's attendance counts, attendance.selectors, which imports it from here).
SUPPRESS_BELOW = 5


def suppress(value: int) -> int | None:
    """A count as published outside the caseload: None (shown as "5未満") under 5."""
    return value if value >= SUPPRESS_BELOW else None


# "Still connected at 3 months": an update saying the person keeps coming, this long (or
# more) after acceptance.
CONNECTED_AFTER = timedelta(days=90)
# The outcome columns: hops still accepted, each recorded outcome, declined.
OUTCOME_COLUMNS: list[tuple[str, Any]] = [
    ("accepted", Status.ACCEPTED.label),
    *Outcome.choices,
    ("declined", Status.DECLINED.label),
]


@dataclass(frozen=True)
class OutcomeRow:
    """Outcomes of the hops received by one agency, or by one kind of agency (suppressed)."""

    label: str
    cells: list[int | None]
    total: int | None


@dataclass(frozen=True)
class ConnectedRow:
    """Of the accepted hops whose 3-month mark fell in the period, how many were still
    connected (an update 通所開始/継続中 at or after 90 days); None where suppressed."""

    label: str
    eligible: int | None
    connected: int | None
    percent: float | None


@dataclass(frozen=True)
class AckTime:
    agency: str
    count: int
    median_hours: float
    p90_hours: float


@dataclass
class Metrics:
    """Relay figures for hops an agency sent or received in a period."""

    start: datetime
    end: datetime
    ack_times: list[AckTime] = field(default_factory=list)
    by_state: list[tuple[str, int]] = field(default_factory=list)
    escalations_per_week: list[tuple[date, int]] = field(default_factory=list)
    declines_by_reason: list[tuple[str, int]] = field(default_factory=list)
    total: int = 0
    outcomes_by_kind: list[OutcomeRow] = field(default_factory=list)
    outcomes_by_agency: list[OutcomeRow] = field(default_factory=list)
    connected_by_kind: list[ConnectedRow] = field(default_factory=list)


def _week_start(moment: datetime) -> date:
    day = timezone.localtime(moment).date()
    return day - timedelta(days=day.weekday())


def metrics(*, agency: Agency, start: datetime, end: datetime) -> Metrics:
    """Time to acknowledge by receiver, hops by state, escalations per week, declines by reason."""
    involved = Q(from_agency=agency) | Q(to_agency=agency)
    hops = list(
        Handoff.objects.filter(involved, created_at__gte=start, created_at__lt=end)
        .select_related("to_agency")
        .only(
            "status",
            "sent_at",
            "acknowledged_at",
            "decline_reason",
            "outcome",
            "to_agency__name",
            "to_agency__kind",
            "from_agency_id",
            "to_agency_id",
        )
    )
    result = Metrics(start=start, end=end, total=len(hops))

    durations: dict[str, list[float]] = defaultdict(list)
    for hop in hops:
        if hop.sent_at and hop.acknowledged_at:
            hours = (hop.acknowledged_at - hop.sent_at).total_seconds() / 3600
            durations[hop.to_agency.name].append(hours)
    result.ack_times = sorted(
        (
            AckTime(
                agency=name,
                count=len(values),
                median_hours=median(values) or 0.0,
                p90_hours=percentile(values, 90) or 0.0,
            )
            for name, values in durations.items()
        ),
        key=lambda a: (-a.median_hours, a.agency),
    )

    states = Counter(hop.status for hop in hops)
    result.by_state = [(s, states[s]) for s in Status.values if states[s]]

    declines = Counter(hop.decline_reason for hop in hops if hop.status == Status.DECLINED)
    result.declines_by_reason = [(r, declines[r]) for r in DeclineReason.values if declines[r]]

    escalated = AuditEvent.objects.filter(
        Q(recipient_agency_id=agency.pk) | Q(detail__from_agency_id=agency.pk),
        action=AuditAction.HANDOFF_ESCALATED,
        occurred_at__gte=start,
        occurred_at__lt=end,
    ).values_list("occurred_at", flat=True)
    weeks = Counter(_week_start(moment) for moment in escalated)
    week = _week_start(start)
    last = _week_start(end - timedelta(seconds=1))
    while week <= last:
        result.escalations_per_week.append((week, weeks[week]))
        week += timedelta(days=7)
    result.outcomes_by_kind = _outcome_rows(hops, key=_kind_label)
    result.outcomes_by_agency = _outcome_rows(hops, key=lambda hop: hop.to_agency.name)
    result.connected_by_kind = connected_at_3_months(involved=involved, start=start, end=end)
    return result


def _kind_label(hop: Handoff) -> str:
    kind = hop.to_agency.kind
    return str(AgencyKind(kind).label) if kind in AgencyKind.values else kind


def _outcome_column(hop: Handoff) -> str | None:
    if hop.status == Status.COMPLETED:
        return hop.outcome or None
    if hop.status in (Status.ACCEPTED, Status.DECLINED):
        return str(hop.status)
    return None


def _outcome_rows(hops: list[Handoff], *, key: Any) -> list[OutcomeRow]:
    """Hops that reached an answer, per receiving agency (or kind): suppressed counts."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for hop in hops:
        column = _outcome_column(hop)
        if column is not None:
            counts[key(hop)][column] += 1
    return [
        OutcomeRow(
            label=label,
            cells=[suppress(by[code]) for code, _label in OUTCOME_COLUMNS],
            total=suppress(sum(by.values())),
        )
        for label, by in sorted(counts.items())
    ]


def connected_at_3_months(*, involved: Q, start: datetime, end: datetime) -> list[ConnectedRow]:
    """Per receiving agency kind (and 合計 last): the accepted hops whose 3-month mark
    (acceptance + 90 days) fell in [start, end) and has passed, and how many of them had an
    update saying 通所開始 or 継続中 at or after that mark. Suppressed under 5."""
    now = timezone.now()
    cohort = list(
        Handoff.objects.filter(
            involved,
            accepted_at__gte=start - CONNECTED_AFTER,
            accepted_at__lt=min(end, now) - CONNECTED_AFTER,
        ).values_list("id", "accepted_at", "to_agency__kind")
    )
    marks: dict[int, datetime] = {
        pk: accepted + CONNECTED_AFTER for pk, accepted, _kind in cohort if accepted is not None
    }
    connected: set[int] = {
        pk
        for pk, at in ProgressUpdate.objects.filter(
            handoff_id__in=list(marks), status__in=list(CONNECTED)
        ).values_list("handoff_id", "created_at")
        if at >= marks[pk]
    }
    groups: dict[str, list[int]] = defaultdict(list)
    for pk, _accepted, kind in cohort:
        label = str(AgencyKind(kind).label) if kind in AgencyKind.values else kind
        groups[label].append(pk)
    rows = [_connected_row(label, ids, connected) for label, ids in sorted(groups.items())]
    if cohort:
        rows.append(_connected_row(_("合計"), [pk for pk, _a, _k in cohort], connected))
    return rows


def _connected_row(label: str, ids: list[int], connected: set[int]) -> ConnectedRow:
    eligible = len(ids)
    still = sum(1 for pk in ids if pk in connected)
    shown = suppress(eligible) is not None and suppress(still) is not None
    return ConnectedRow(
        label=label,
        eligible=suppress(eligible),
        connected=suppress(still),
        percent=round(100 * still / eligible, 1) if shown else None,
    )
