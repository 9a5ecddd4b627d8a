"""The list's prepared page (api.handoff_page, PostgreSQL): the selector's rows, DRF's text.

SQLite lists through the queryset path (api.handoffs._list_rows); the byte-for-byte document
test in test_handoff_list.py runs the view on whichever database the suite has.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from api import handoff_page
from api.handoff_serializers import handoff_documents
from api.handoffs import _list_rows
from api.pagination import keyset_after
from relay import selectors, services
from relay.models import Handoff
from relay.states import Status
from tests.api.helpers import bearer

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the prepared page is PostgreSQL's"
    ),
]

SELECTORS = {"inbox": selectors.handoffs_inbox_for, "outbox": selectors.handoffs_outbox_for}


def _net_with_hops(net, n: int = 7) -> list[Handoff]:
    hops = []
    for _ in range(n):
        sheet = net.sheet()
        net.consent(sheet)
        hops.append(net.send(sheet))
    services.handoff_decline(staff=net.npo_intake, handoff_id=hops[0].pk, reason="no_capacity")
    services.handoff_accept(staff=net.npo_intake, handoff_id=hops[1].pk)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hops[2].pk)
    # Equal send times (the id breaks the tie) and whole seconds (no fraction is written).
    whole = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    Handoff.objects.filter(pk__in=[hops[3].pk, hops[4].pk]).update(
        sent_at=whole, acknowledged_at=whole + timedelta(hours=1)
    )
    return hops


def _queryset_page(box, agency, statuses, since, after, limit):
    rows = SELECTORS[box](agency=agency, statuses=statuses, updated_since=since, annotated=False)
    if after is not None:
        ordering = [(f.lstrip("-"), f.startswith("-")) for f in rows.query.order_by]
        rows = rows.filter(keyset_after(ordering, after))
    return list(_list_rows(rows)[:limit])


@pytest.mark.parametrize("box", ["inbox", "outbox"])
@pytest.mark.parametrize(
    ("statuses", "since"),
    [(None, None), ([Status.SENT, Status.DECLINED], None), (None, "past"), (["sent"], "now")],
)
def test_the_prepared_page_is_the_selectors_page(net, box, statuses, since) -> None:
    """GIVEN hops in several states, equal send times and whole seconds WHEN a page is read
    from the prepared statement, from the start and after a cursor, with and without status
    and updated_since THEN its rows, document and next cursor are the queryset path's."""
    _net_with_hops(net)
    agency = net.npo if box == "inbox" else net.ward
    when = {None: None, "past": timezone.now() - timedelta(days=1), "now": timezone.now()}[since]
    order_by = handoff_page.page_order(box)
    after = None
    for _page in range(4):
        expected = _queryset_page(box, agency, statuses, when, after, 3)
        got = handoff_page.handoff_page_rows(
            box=box,
            agency_id=agency.pk,
            statuses=statuses,
            updated_since=when,
            after=after,
            limit=3,
        )
        assert [r["id"] for r in got] == [r["id"] for r in expected]
        assert handoff_documents(got, reader=agency.pk) == handoff_documents(
            expected, reader=agency.pk
        )
        if not got:
            break
        keys = [f.lstrip("-") for f in order_by]
        assert handoff_page.cursor_values(got[-1], order_by) == [expected[-1][k] for k in keys]
        after = handoff_page.cursor_values(got[-1], order_by)
    if statuses is None and since is None:
        assert after is not None  # at least one full page was walked


@pytest.mark.parametrize(
    "zone", ["Asia/Tokyo", "UTC", "America/New_York", "Asia/Kolkata", "Europe/London"]
)
def test_postgresql_writes_timestamps_as_drf_does(zone) -> None:
    """GIVEN instants with and without microseconds, across daylight saving changes, before
    the zone's offset settled (Tokyo's summer time of 1948–51, local mean time) WHEN
    PostgreSQL writes them for the document THEN the text is DRF's (isoformat in the current
    time zone, UTC as Z)."""
    instants = [
        datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 3, 12, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 7, 1, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(1950, 7, 1, 3, 0, 0, 120, tzinfo=UTC),
        datetime(1880, 1, 1, 0, 0, 0, tzinfo=UTC),
        datetime(2150, 8, 1, 0, 0, 0, 5, tzinfo=UTC),
    ]
    with timezone.override(zone):
        tz = timezone.get_current_timezone()
        sql = handoff_page.iso_text_sql("t", tz)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {sql} FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS u(t, n) "  # noqa: S608
                "ORDER BY n",
                [instants],
            )
            written = [row[0] for row in cursor.fetchall()]
    expected = []
    for moment in instants:
        text = moment.astimezone(tz).isoformat()
        expected.append(text[:-6] + "Z" if text.endswith("+00:00") else text)
    assert written == expected


def test_the_view_lists_through_the_prepared_page_in_two_statements(net, key_for) -> None:
    """GIVEN a PostgreSQL database WHEN the inbox is listed THEN the page's statement is the
    prepared one (the timestamps written by PostgreSQL) and the request takes two statements:
    the key and the page."""
    _net_with_hops(net, 5)
    client = APIClient()
    headers = bearer(key_for(net.npo))
    client.get("/api/v1/handoffs/", **headers)  # the key's first use writes last_used_at
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/v1/handoffs/?page_size=2", **headers)
    assert response.status_code == 200
    assert len(ctx.captured_queries) == 2
    assert "to_char" in ctx.captured_queries[-1]["sql"]
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/v1/handoffs/?q=A", **headers)
    assert "to_char" not in ctx.captured_queries[-1]["sql"]  # q: the queryset path
