"""Lists are one indexed query per page: the count does not grow with the rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from relay import selectors

pytestmark = pytest.mark.django_db


def _page_queries(fetch) -> int:
    with CaptureQueriesContext(connection) as ctx:
        rows = list(fetch()[:50])
        for row in rows:  # touch what a list page shows
            str(getattr(row, "to_agency", None) or getattr(row, "sheet", None))
            getattr(row, "from_agency", None)
    return len(ctx.captured_queries)


def _sent_hops(net, n: int) -> None:
    for i in range(n):
        sheet = net.sheet(subject_initials=f"A.{chr(65 + i % 26)}")
        net.consent(sheet)
        net.send(sheet)


@pytest.mark.parametrize(
    "fetch",
    [
        lambda net: lambda: selectors.handoffs_inbox_for(agency=net.npo),
        lambda net: lambda: selectors.handoffs_outbox_for(agency=net.ward),
        lambda net: lambda: selectors.sheets_visible_to(agency=net.npo),
        lambda net: lambda: selectors.notifications_for(agency=net.npo),
    ],
    ids=["inbox", "outbox", "sheets", "notifications"],
)
def test_query_count_is_the_same_for_1_and_for_50_rows(net, fetch) -> None:
    _sent_hops(net, 1)
    one = _page_queries(fetch(net))
    _sent_hops(net, 49)
    fifty = _page_queries(fetch(net))
    assert one == fifty == 1


def test_lists_do_not_use_guardian_scans(net) -> None:
    _sent_hops(net, 3)
    with CaptureQueriesContext(connection) as ctx:
        list(selectors.handoffs_inbox_for(agency=net.npo)[:50])
    assert not any("objectpermission" in q["sql"].lower() for q in ctx.captured_queries)
