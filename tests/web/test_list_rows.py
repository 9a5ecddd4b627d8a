"""The inbox and outbox tables are written from plain rows (relay.views.handoffs.HandoffRow):
the same HTML as from the model instances, and the same queries for 1 row as for a full page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agencies.models import Service
from relay import services
from relay.list_rows import HandoffRow
from relay.models import Handoff
from relay.selectors import handoffs_inbox_for, handoffs_outbox_for
from relay.states import Status

pytestmark = pytest.mark.django_db


def _hops(net, n: int) -> list[Handoff]:
    hops = []
    for i in range(n):
        sheet = net.sheet(subject_initials=f"A.{chr(65 + i % 26)}", school_name="北中学校")
        net.consent(sheet)
        hops.append(net.send(sheet))
    return hops


@pytest.mark.parametrize("box", ["inbox", "outbox"])
def test_the_table_from_rows_is_the_table_from_models(net, box) -> None:
    hops = _hops(net, 4)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hops[0].pk)
    services.handoff_decline(staff=net.npo_intake, handoff_id=hops[1].pk, reason="no_capacity")
    Handoff.objects.filter(pk=hops[2].pk).update(urgent=True, escalation_level=2)
    Handoff.objects.filter(pk=hops[3].pk).update(status=Status.DRAFT, sent_at=None)
    program = Service.objects.create(agency=net.npo, slug="kayoiba", name="居場所「かよいば」")
    Handoff.objects.filter(pk=hops[0].pk).update(service=program)
    if box == "inbox":
        rows = handoffs_inbox_for(agency=net.npo)
    else:
        rows = handoffs_outbox_for(agency=net.ward)
    columns = HandoffRow.COLUMNS if box == "inbox" else (*HandoffRow.COLUMNS, "returned")
    plain = [HandoffRow.from_values(r) for r in rows.select_related(None).values(*columns)]
    context = {"box": box, "wide": True, "now": timezone.now()}
    from_rows = render_to_string("relay/handoffs/_table.html", {**context, "handoffs": plain})
    from_models = render_to_string(
        "relay/handoffs/_table.html", {**context, "handoffs": list(rows)}
    )
    assert plain and from_rows == from_models
    assert "北中学校" in from_rows and "居場所「かよいば」" in from_rows


@pytest.mark.parametrize(("box", "owner"), [("inbox", "npo_intake"), ("outbox", "counselor")])
def test_a_page_of_1_and_of_25_rows_take_the_same_queries(net, login, box, owner) -> None:
    client = login(getattr(net, owner))
    url = reverse(f"relay:{box}")
    _hops(net, 1)
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    _hops(net, 24)
    with CaptureQueriesContext(connection) as full:
        body = client.get(url).content.decode()
    assert body.count("<tr>") == 26  # the header and 25 rows
    assert len(one.captured_queries) == len(full.captured_queries)
