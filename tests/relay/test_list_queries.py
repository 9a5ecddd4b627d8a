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


@pytest.mark.parametrize(
    ("selector", "owner"),
    [(selectors.handoffs_inbox_for, "npo"), (selectors.handoffs_outbox_for, "ward")],
    ids=["inbox", "outbox"],
)
@pytest.mark.parametrize(
    ("filters", "needed"),
    [({}, set()), ({"q": "a"}, {"shared_key"}), ({"grade": "j2"}, {"shared_grade"})],
    ids=["none", "q", "grade"],
)
def test_a_plain_page_builds_only_the_annotations_its_filters_read(
    net, selector, owner, filters, needed
) -> None:
    """GIVEN hops in the inbox and outbox WHEN the selector is asked for a page of plain
    columns (annotated=False, the API's values() page) THEN it builds only the annotations
    its filters read (the three school/grade subqueries and the outbox's `returned` are the
    web table's, built and compiled for nothing otherwise: issue 14), and gives the same
    hops in the same order as the annotated list."""
    _sent_hops(net, 3)
    agency = getattr(net, owner)

    plain = selector(agency=agency, filters=filters, annotated=False)
    full = selector(agency=agency, filters=filters)

    assert set(plain.query.annotations) == needed
    assert {"shared_school", "shared_grade", "shared_key"} <= set(full.query.annotations)
    ids = list(full.values_list("id", flat=True))
    assert list(plain.values_list("id", flat=True)) == ids and ids
