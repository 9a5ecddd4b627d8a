"""Prometheus metrics: requests by route and status, and the domain's backlog, read at scrape.

Request metrics are counted in each web process (prometheus-client; with several gunicorn
workers set PROMETHEUS_MULTIPROC_DIR so that /metrics adds up every worker's). The domain
gauges are read from the database when /metrics is scraped, so they are the same whichever
process answers: the outbox backlog and its oldest row, delivery attempts by result,
escalations due and fired, the audit chain's length and newest event, consent records
expiring within 7 days. No metric carries a name or any other personal data: labels are
routes, statuses, channels and results.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, Max, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from audit.models import AuditAction, AuditEvent
from consent.models import ConsentRecord, ConsentStatus
from duework.models import Clock, ClockState
from duework.policy import HANDOFF_ACK
from notifications.models import Channel, DeliveryAttempt, DeliveryState, OutboxMessage

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "tsunagu_http_requests_total",
    "HTTP requests answered, by route pattern, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "tsunagu_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern.",
    ["route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EXPIRY_WINDOW = timedelta(days=7)


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request (called by ops.middleware.RequestLogMiddleware)."""
    REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    LATENCY.labels(route=route).observe(seconds)


def _outbox() -> Iterator[Metric]:
    backlog = GaugeMetricFamily(
        "tsunagu_outbox_backlog", "Outbox messages not yet delivered.", labels=["channel"]
    )
    oldest = GaugeMetricFamily(
        "tsunagu_outbox_oldest_undelivered_age_seconds",
        "Age of the oldest outbox message not yet delivered (0 when none).",
    )
    pending = OutboxMessage.objects.filter(state=DeliveryState.PENDING)
    by_channel = dict.fromkeys(Channel.values, 0)  # every channel, 0 when none waits
    for row in pending.values("channel").annotate(n=Count("id")).order_by("channel"):
        by_channel[row["channel"]] = row["n"]
    for channel, count in sorted(by_channel.items()):
        backlog.add_metric([channel], count)
    first = pending.aggregate(first=Min("created_at"))["first"]
    oldest.add_metric([], (timezone.now() - first).total_seconds() if first else 0.0)
    attempts = CounterMetricFamily(
        "tsunagu_delivery_attempts", "Delivery attempts, by result.", labels=["result"]
    )
    counts = {True: 0, False: 0}
    for attempt in DeliveryAttempt.objects.values("succeeded").annotate(n=Count("id")).order_by():
        counts[attempt["succeeded"]] = attempt["n"]
    attempts.add_metric(["succeeded"], counts[True])
    attempts.add_metric(["failed"], counts[False])
    yield from (backlog, oldest, attempts)


def _escalations() -> Iterator[Metric]:
    due = GaugeMetricFamily(
        "tsunagu_escalations_due", "Sent, unacknowledged hops whose next escalation is due."
    )
    # The acknowledgment clocks own the deadline (duework): read through their due index,
    # not the hops' mirrored column (which carries no index, so the sweep's writes stay cheap).
    due.add_metric(
        [],
        Clock.objects.filter(
            kind=HANDOFF_ACK, state=ClockState.OPEN, next_fire_at__lte=timezone.now()
        ).count(),
    )
    fired = CounterMetricFamily("tsunagu_escalations_fired", "Escalations fired (audited).")
    fired.add_metric([], AuditEvent.objects.filter(action=AuditAction.HANDOFF_ESCALATED).count())
    yield from (due, fired)


def _audit() -> Iterator[Metric]:
    newest = AuditEvent.objects.aggregate(last_id=Max("id"), last_at=Max("occurred_at"))
    appended = CounterMetricFamily(
        "tsunagu_audit_events_appended",
        "Audit events appended (the id of the newest event; rate() gives the append rate).",
    )
    appended.add_metric([], newest["last_id"] or 0)
    last_at = GaugeMetricFamily(
        "tsunagu_audit_last_event_timestamp_seconds", "When the newest audit event was written."
    )
    last_at.add_metric([], newest["last_at"].timestamp() if newest["last_at"] else 0.0)
    yield from (appended, last_at)


def _consent() -> Iterator[Metric]:
    now = timezone.now()
    expiring = GaugeMetricFamily(
        "tsunagu_consent_records_expiring_7d", "Active consent records that expire within 7 days."
    )
    expiring.add_metric(
        [],
        ConsentRecord.objects.filter(
            status=ConsentStatus.ACTIVE, valid_until__gt=now, valid_until__lte=now + EXPIRY_WINDOW
        ).count(),
    )
    yield expiring


class DomainCollector(Collector):
    """The domain gauges, read from the database at each scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "tsunagu_domain_metrics_up", "1 if the domain metrics could be read from the database."
        )
        metrics: list[Metric] = []
        try:
            for part in (_outbox, _escalations, _audit, _consent):
                metrics.extend(part())
        except Exception as exc:  # the database is down: say so, keep the request metrics
            log.warning("domain metrics unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics


def exposition() -> bytes:
    """The text exposition of every metric (all workers' when PROMETHEUS_MULTIPROC_DIR is set)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        process_metrics = generate_latest(registry)
    else:
        process_metrics = generate_latest(REGISTRY)
    domain = CollectorRegistry()
    domain.register(DomainCollector())
    return process_metrics + generate_latest(domain)
