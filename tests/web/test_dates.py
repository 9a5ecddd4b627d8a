"""Dates and periods are shown as people say and sign them: the inclusive last day, in the
reader's language (a half-open period's exclusive end is never shown as-is)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from consent.models import ConsentRecord
from tests.web.test_consent import _consent_form

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def november_4():
    with time_machine.travel(datetime(2026, 11, 4, 10, 0, tzinfo=TOKYO), tick=False):
        yield


def _english(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    return client


def test_a_consent_until_1_december_reads_until_1_december(net, login, november_4) -> None:
    """GIVEN a consent recorded on the screen as valid until 2027-12-01 WHEN the sheet page and
    the printed form are shown THEN both say 1 December (never the stored exclusive end, the 2nd),
    in Japanese and in English."""
    sheet = net.sheet()
    client = login(net.counselor)
    client.post(
        reverse("relay:consent-new", args=[sheet.pk]), _consent_form(net, valid_until="2027-12-01")
    )
    record = ConsentRecord.objects.get()
    assert record.valid_until.astimezone(TOKYO).date().isoformat() == "2027-12-02"  # stored [from, until)

    page = client.get(reverse("relay:sheet-detail", args=[sheet.pk])).content.decode()
    assert "2027年12月1日まで" in page
    assert "2027-12-02" not in page and "2027年12月2日" not in page

    printed = client.get(reverse("relay:consent-print", args=[record.pk])).content.decode()
    assert "2027年12月1日 まで" in printed and "12月2日" not in printed

    _english(client)
    page = client.get(reverse("relay:sheet-detail", args=[sheet.pk])).content.decode()
    assert "until Dec. 1, 2027" in page
    printed = client.get(reverse("relay:consent-print", args=[record.pk])).content.decode()
    assert "Dec. 1, 2027" in printed and "年" not in printed.split("Dec. 1, 2027")[0][-20:]
    assert "2027年12月1日" not in printed


def test_a_lawful_basis_in_the_approval_queue_shows_its_last_day(net, login, november_4) -> None:
    sheet = net.sheet()
    login(net.counselor).post(
        reverse("relay:consent-new", args=[sheet.pk]),
        _consent_form(
            net,
            basis="life_or_body",
            reason="本人の生命を守るため、同意を得る時間がない。",
            valid_until="2026-12-31",
        ),
    )
    body = login(net.supervisor).get(reverse("relay:approvals")).content.decode()
    assert "2026年12月31日まで" in body and "2027年1月1日" not in body


def test_report_periods_read_from_first_to_last_day(net, login, november_4) -> None:
    """GIVEN the audit log, provision records and metrics for 1-30 November WHEN shown THEN the
    period reads 「2026年11月1日から2026年11月30日まで」 (not "before 12/1 00:00"); in English
    "Nov. 1, 2026 to Nov. 30, 2026"."""
    client = login(net.supervisor)
    query = {"start": "2026-11-01", "end": "2026-11-30"}
    for name in ("relay:audit-log", "relay:provision-records", "relay:metrics"):
        body = client.get(reverse(name), query).content.decode()
        assert "2026年11月1日から2026年11月30日まで" in body, name
        assert "より前" not in body and "12月1日" not in body, name
    _english(client)
    for name in ("relay:audit-log", "relay:provision-records", "relay:metrics"):
        body = client.get(reverse(name), query).content.decode()
        assert "Nov. 1, 2026 to Nov. 30, 2026" in body, name
