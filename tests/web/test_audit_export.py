"""The audit CSV walks the same keyset branches as the audit page (issue 11): the same events,
for a supervisor who sees its own agency's events and the scoped events of others, chunk by
chunk by id, never by OFFSET."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from relay import services
from relay.forms import AuditFilterForm
from relay.reports import audit_events_visible_to
from relay.services import exports
from relay.views.base import keyset_page
from relay.views.supervisor import _filtered_events

pytestmark = pytest.mark.django_db


def _export_ids(client, query: dict) -> list[int]:
    response = client.get(reverse("relay:audit-export"), query)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return [int(row["id"]) for row in csv.DictReader(io.StringIO(text))]


def _page_ids(staff, query: dict) -> list[int]:
    """Every row of the audit page, page after page (newest first), two rows a page."""
    form = AuditFilterForm(query or None)
    ids: list[int] = []
    cursor: dict = {}
    while True:
        request = RequestFactory().get("/supervisor/audit/", {**query, **cursor})
        page = keyset_page(request, _filtered_events(staff, form), size=2)
        ids += [event.pk for event in page.rows]
        if page.older is None:
            return ids
        cursor = {"before": page.older}


def _traffic(net) -> None:
    """The ward sends three hops; the NPO reads and answers them (another agency's scoped
    events and reads); the NPO also works on a sheet of its own (never the ward's business)."""
    for _ in range(3):
        sheet = net.sheet()
        net.consent(sheet)
        hop = net.send(sheet)
        services.handoff_view(staff=net.npo_intake, handoff_id=hop.pk)
        services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    services.sheet_create(
        staff=net.npo_supervisor,
        data={
            "subject_initials": "Z.Z",
            "consulted_on": "2026-11-01",
            "consulter": "person",
            "consultation": "NPO自身の相談",
        },
    )


@pytest.mark.parametrize("query", [{}, {"action": AuditAction.HANDOFF_ACKNOWLEDGED}])
def test_the_export_is_the_pages_rows_across_chunks(net, login, monkeypatch, query) -> None:
    """GIVEN a supervisor whose trail holds its own events and the NPO's answers on its hops
    WHEN it exports in chunks of 2 THEN the CSV holds exactly the audit page's rows, page after
    page, oldest first, and the export's audit event counts them."""
    _traffic(net)
    monkeypatch.setattr(exports, "AUDIT_EXPORT_CHUNK", 2)
    pages = _page_ids(net.supervisor, query)
    exported = _export_ids(login(net.supervisor), query)

    assert exported == pages[::-1] and len(exported) > 2  # more than one chunk
    record = AuditEvent.objects.filter(action=AuditAction.AUDIT_EXPORTED).latest("id")
    assert record.detail["rows"] == len(exported)
    # The single-query definition of what the agency may see, up to the export's snapshot.
    visible = audit_events_visible_to(agency=net.ward).filter(id__lt=record.pk)
    if query:
        visible = visible.filter(**query)
    assert exported == list(visible.order_by("id").values_list("id", flat=True))
    actors = set(
        AuditEvent.objects.filter(pk__in=exported).values_list("actor_agency_id", flat=True)
    )
    assert net.npo.pk in actors and (query or net.ward.pk in actors)
    npo_reads = AuditEvent.objects.filter(
        actor_agency_id=net.npo.pk, action=AuditAction.HANDOFF_VIEWED
    )
    assert npo_reads.exists() and not npo_reads.filter(pk__in=exported).exists()


def test_the_export_reads_by_id_never_by_offset(net, login, monkeypatch) -> None:
    _traffic(net)
    monkeypatch.setattr(exports, "AUDIT_EXPORT_CHUNK", 2)
    with CaptureQueriesContext(connection) as ctx:
        _export_ids(login(net.supervisor), {})
    event_reads = [q["sql"] for q in ctx.captured_queries if '"audit_auditevent"' in q["sql"]]
    assert event_reads and not any("OFFSET" in sql.upper() for sql in event_reads)
