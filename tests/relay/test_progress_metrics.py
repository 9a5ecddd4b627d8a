"""Supervisor metrics from a small known dataset: outcomes by receiving agency kind and by
agency, and "still connected at 3 months", with counts under 5 suppressed."""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.test import Client

from duework.business_time import TOKYO
from relay import services
from relay.reports import connected_at_3_months, metrics
from tests.fixtures import sign_in

pytestmark = pytest.mark.django_db

ACCEPTED = datetime(2026, 6, 1, 10, tzinfo=TOKYO)  # the 3-month mark: 2026-08-30
START = datetime(2026, 5, 1, tzinfo=TOKYO)
END = datetime(2026, 9, 1, tzinfo=TOKYO)
NOW = datetime(2026, 10, 1, 12, tzinfo=TOKYO)


def _accepted(net, to, intake):
    with time_machine.travel(ACCEPTED, tick=False):
        sheet = net.sheet()
        net.consent(sheet, to=[net.npo, net.welfare])
        hop = net.send(sheet, to=to)
        services.handoff_accept(staff=intake, handoff_id=hop.pk)
    return hop


def _report(staff, hop, status: str, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        services.handoff_progress_post(staff=staff, handoff_id=hop.pk, status=status)


@pytest.fixture
def dataset(net):
    """Six hops to the NPO: five still 継続中 after the mark, one 中断 after it (it was
    通所開始 before) and then completed as 本人が希望しなかった. Five to the welfare office:
    four 継続中 after the mark, one never reported."""
    npo = [_accepted(net, net.npo, net.npo_intake) for _ in range(6)]
    for hop in npo[:5]:
        _report(net.npo_intake, hop, "continuing", datetime(2026, 9, 2, 10, tzinfo=TOKYO))
    _report(net.npo_intake, npo[5], "started", datetime(2026, 7, 1, 10, tzinfo=TOKYO))
    _report(net.npo_intake, npo[5], "paused", datetime(2026, 9, 2, 10, tzinfo=TOKYO))
    with time_machine.travel(datetime(2026, 9, 10, 10, tzinfo=TOKYO), tick=False):
        services.handoff_complete(
            staff=net.npo_intake, handoff_id=npo[5].pk, outcome="person_declined"
        )
    welfare = [_accepted(net, net.welfare, net.welfare_intake) for _ in range(5)]
    for hop in welfare[:4]:
        _report(net.welfare_intake, hop, "continuing", datetime(2026, 8, 31, 10, tzinfo=TOKYO))
    return npo, welfare


def test_outcomes_and_still_connected_at_3_months(net, dataset) -> None:
    with time_machine.travel(NOW, tick=False):
        figures = metrics(agency=net.ward, start=START, end=END)
    npo_label, welfare_label = "NPO・フリースクール", "福祉事務所・福祉相談"
    by_kind = {r.label: (r.cells, r.total) for r in figures.outcomes_by_kind}
    # Columns: accepted, support_started, referred_on, person_declined, unreachable, declined
    assert by_kind[npo_label] == ([5, None, None, None, None, None], 6)
    assert by_kind[welfare_label] == ([5, None, None, None, None, None], 5)
    by_agency = {r.label: r.total for r in figures.outcomes_by_agency}
    assert by_agency == {net.npo.name: 6, net.welfare.name: 5}

    rows = {r.label: (r.eligible, r.connected, r.percent) for r in figures.connected_by_kind}
    assert rows[npo_label] == (6, 5, 83.3)
    assert rows[welfare_label] == (5, None, None)  # 4 connected: under 5, not shown
    assert rows["合計"] == (11, 9, 81.8)


def test_a_mark_not_yet_reached_or_outside_the_period_is_not_counted(net, dataset) -> None:
    """Before the mark has passed there is nothing to count; a period that does not hold
    the mark counts nothing either."""
    involved = {"involved": Q(from_agency=net.ward)}
    with time_machine.travel(datetime(2026, 8, 29, tzinfo=TOKYO), tick=False):
        assert connected_at_3_months(**involved, start=START, end=END) == []
    with time_machine.travel(NOW, tick=False):
        assert connected_at_3_months(**involved, start=END, end=NOW) == []


def test_the_metrics_page_shows_them_suppressed(net, dataset) -> None:
    client = sign_in(Client(), get_user_model().objects.get(pk=net.supervisor.user_id))
    with time_machine.travel(NOW, tick=False):
        page = client.get("/supervisor/metrics/", {"start": "2026-05-01", "end": "2026-08-31"})
    assert page.status_code == 200, page.content[:500]
    text = page.content.decode()
    assert 'data-testid="connected"' in text and "83.3%" in text and "5未満" in text
