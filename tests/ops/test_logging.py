"""Production logs: one JSON object a line, with the request id that audit events and problem
documents carry, the route (never the query string), status, duration, actor kind and agency."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.test import Client

from api.keys import api_key_create
from api.scopes import ALL_SCOPES
from audit.context import Actor
from audit.models import AuditEvent
from ops.jsonlog import RequestIdFilter, TsunaguJsonFormatter
from tests.fixtures import SHEET_DATA

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the production handler (settings.LOGGING with LOG_FORMAT=json) writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        TsunaguJsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("tsunagu.request")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_api_read_logs_route_status_actor_and_the_audit_request_id(net, json_log) -> None:
    """GIVEN a partner reading a hop sent to it WHEN it asks with X-Request-ID THEN the log
    line and the audit event of the read carry that id; the log has no personal data."""
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    _key, plaintext = api_key_create(
        agency=net.npo,
        name="npo",
        scopes=sorted(ALL_SCOPES),
        expires_at=None,
        created_by=None,
        actor=Actor.system("tests"),
    )

    response = Client().get(
        f"/api/v1/handoffs/{hop.pk}/?q={SHEET_DATA['subject_initials']}",
        HTTP_AUTHORIZATION=f"Bearer {plaintext}",
        HTTP_X_REQUEST_ID="trace-read-1",
    )

    assert response.status_code == 200
    (line,) = [entry for entry in lines(json_log) if entry.get("route")]
    assert line["request_id"] == "trace-read-1"
    assert line["route"] == "/api/v1/handoffs/<int:pk>/"
    assert line["status"] == 200 and line["method"] == "GET"
    assert line["actor_kind"] == "api_client" and line["agency_id"] == net.npo.pk
    assert line["duration_ms"] >= 0 and line["level"] == "INFO"
    raw = json_log.getvalue()
    assert SHEET_DATA["subject_initials"] not in raw and "?q=" not in raw
    assert SHEET_DATA["school_name"] not in raw
    assert AuditEvent.objects.filter(request_id="trace-read-1").exists()


def test_a_problem_document_names_the_logged_request_id(json_log) -> None:
    response = Client().get("/api/v1/whoami/", HTTP_X_REQUEST_ID="trace-401")
    assert response.json()["instance"] == "urn:tsunagu:request:trace-401"
    (line,) = [entry for entry in lines(json_log) if entry.get("route")]
    assert line["request_id"] == "trace-401" and line["status"] == 401
    assert line["actor_kind"] == "anonymous" and line["agency_id"] is None
