"""The send screen's coverage grid asks the consent policy once per screen: one load of the
sheet's consent records, then every recipient x section cell in memory, by the same rule."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent.policy import consent_records, decide, permits
from consent.vocabulary import Section
from relay.views.send import coverage_for

pytestmark = pytest.mark.django_db

SIX = ["basic", "consultation", "attendance", "home", "health", "wishes"]


def _queries(client, url, data) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.post(url, data, headers={"HX-Request": "true"}).status_code == 200
    return len(ctx.captured_queries)


def test_grid_costs_the_same_for_3x6_as_for_1x1(net, login) -> None:
    """GIVEN a sheet with consent records WHEN the live check is asked for 3 recipients x 6
    sections THEN it runs as many queries as for 1 x 1 (it ran 42 when each cell asked)."""
    assert set(SIX) <= set(Section.values)
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance], sections=SIX[:4])
    net.consent(sheet, to=[net.welfare], sections=["basic"], decision="deny")
    client = login(net.counselor)
    url = reverse("relay:send-check", args=[sheet.pk])
    small = {"recipients": [str(net.npo.pk)], "sections": ["basic"], "purpose": "support"}
    big = {
        "recipients": [str(a.pk) for a in (net.npo, net.guidance, net.welfare)],
        "sections": SIX,
        "purpose": "support",
    }
    _queries(client, url, small)  # warm the session and caches
    assert _queries(client, url, big) == _queries(client, url, small)


def test_coverage_loads_the_records_once(net, django_assert_num_queries) -> None:
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance], sections=SIX[:4])
    recipients = [net.npo, net.guidance, net.welfare]
    # The records, their named recipients, and the recipients' programs: one query each.
    with django_assert_num_queries(3):
        rows = coverage_for(
            sheet=sheet,
            sender=net.ward,
            recipients=recipients,
            sections=SIX,
            purpose="support",
            readable=SIX,
        )
    assert [r.allowed for r in rows] == [False, False, False]
    assert rows[0].cells == [(s, s in SIX[:4]) for s in SIX]
    assert rows[2].cells == [(s, False) for s in SIX]


def test_the_grid_and_the_send_give_the_same_answer(net) -> None:
    """decide over preloaded records is permits, cell for cell, refusals and reasons included."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo], sections=["basic", "consultation"])
    net.consent(sheet, to=[net.npo], sections=["health"], decision="deny")
    net.consent(sheet, kinds=["child_guidance"], sections=["basic"], purposes=["case_conference"])
    now = timezone.now()
    records = consent_records(sheet_id=sheet.pk)
    for agency in (net.npo, net.guidance, net.welfare):
        for purpose in ("support", "case_conference"):
            for sections in (["basic"], ["basic", "consultation"], ["health"], SIX, []):
                ask = {
                    "sender": net.ward,
                    "recipient": agency,
                    "sections": sections,
                    "purpose": purpose,
                    "at": now,
                }
                mine = decide(records=records, **ask)
                sent = permits(sheet_id=sheet.pk, **ask)
                assert (mine.allowed, mine.reason, mine.message, mine.missing_sections) == (
                    sent.allowed,
                    sent.reason,
                    sent.message,
                    sent.missing_sections,
                )
                assert mine.record == sent.record
