"""/metrics: Prometheus text for a bearer of METRICS_TOKEN, with the domain's gauges and no
personal data."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from duework.models import Clock
from duework.policy import HANDOFF_ACK
from notifications.models import DeliveryAttempt, OutboxMessage
from tests.fixtures import SHEET_DATA

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def metrics_token(settings) -> str:
    settings.TSUNAGU = {**settings.TSUNAGU, "METRICS_TOKEN": TOKEN}
    return TOKEN


def scrape() -> dict[str, float]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def test_metrics_is_off_without_a_token_and_refuses_a_wrong_one(settings) -> None:
    assert Client().get("/metrics").status_code == 404
    settings.TSUNAGU = {**settings.TSUNAGU, "METRICS_TOKEN": TOKEN}
    assert Client().get("/metrics").status_code == 401
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")


def test_domain_gauges_follow_the_database(net, metrics_token) -> None:
    """GIVEN a sent hop (its notifications pending, one failed attempt), a consent expiring
    in 3 days and an escalation due WHEN scraped THEN the gauges say so."""
    sheet = net.sheet()
    net.consent(sheet, days=3)
    hop = net.send(sheet)
    pending = OutboxMessage.objects.filter(handoff=hop)
    assert pending.exists()
    first = pending.first()
    OutboxMessage.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    DeliveryAttempt.objects.create(message=first, succeeded=False, error="timeout")
    # Its acknowledgment clock is due (the clock owns the deadline; the hop mirrors it).
    clock = Clock.objects.filter(kind=HANDOFF_ACK, subject_id=hop.pk)
    assert clock.update(next_fire_at=timezone.now() - timedelta(minutes=1)) == 1

    values = scrape()

    assert values["tsunagu_domain_metrics_up"] == 1
    backlog = sum(v for k, v in values.items() if k.startswith("tsunagu_outbox_backlog{"))
    assert backlog == pending.count()
    assert values["tsunagu_outbox_oldest_undelivered_age_seconds"] >= 600
    assert values["tsunagu_delivery_attempts_total{result=failed}"] == 1
    assert values["tsunagu_escalations_due"] == 1
    assert values["tsunagu_consent_records_expiring_7d"] == 1
    assert values["tsunagu_audit_events_appended_total"] > 0


def test_request_metrics_count_routes_not_paths(net, metrics_token) -> None:
    Client().get("/api/v1/handoffs/12345/")
    values = scrape()
    routes = {k for k in values if k.startswith("tsunagu_http_requests_total{")}
    assert any("route=/api/v1/handoffs/<int:pk>/" in k for k in routes)
    assert not any("12345" in k for k in routes)


def test_no_personal_data_in_the_exposition(net, metrics_token) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    net.send(sheet)
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    for value in (SHEET_DATA["subject_initials"], SHEET_DATA["school_name"], "counselor"):
        assert value not in text


def test_every_series_of_the_grafana_dashboard_is_exported(net, metrics_token) -> None:
    """docs/grafana-dashboard.json asks only for series that /metrics really has."""
    dashboard = json.loads((settings.BASE_DIR / "docs" / "grafana-dashboard.json").read_text())
    wanted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"tsunagu_[a-z0-9_]+", target["expr"])
    }
    Client().get("/api/v1/whoami/")  # so that the request series exist
    exported = {key.split("{")[0] for key in scrape()}
    assert wanted - exported == set()
