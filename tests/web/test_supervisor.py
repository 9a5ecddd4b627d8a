"""Supervisor screens: audit log (scoped, filtered, exported and audited), provision records,
metrics; and that nobody else can open them."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from audit.tasks import verify_new_events
from relay import services
from relay.reports import audit_events_visible_to
from relay.views import base as base_views

pytestmark = pytest.mark.django_db

SUPERVISOR_PAGES = (
    "relay:approvals",
    "relay:audit-log",
    "relay:provision-records",
    "relay:metrics",
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.mark.parametrize("name", SUPERVISOR_PAGES)
def test_only_supervisors_open_supervisor_pages(net, login, name) -> None:
    for staff in (net.counselor, net.viewer, net.npo_intake):
        assert login(staff).get(reverse(name)).status_code == 403
    assert login(net.supervisor).get(reverse(name)).status_code == 200
    assert login(net.counselor).get(reverse("relay:audit-export")).status_code == 403


def _csv(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_audit_log_is_scoped_to_the_agency_and_hides_other_agencies_reads(net, login, sent) -> None:
    sheet, hop = sent
    services.handoff_view(staff=net.npo_intake, handoff_id=hop.pk)  # the NPO's internal read
    other = net.sheet()  # noqa: F841  (the ward's own second sheet)
    unrelated = services.sheet_create(
        staff=net.npo_supervisor,
        data={
            "subject_initials": "Z.Z",
            "consulted_on": "2026-11-01",
            "consulter": "person",
            "consultation": "NPO自身の相談",
        },
    )
    body = (
        login(net.supervisor).get(reverse("relay:audit-log"), {"sheet": sheet.pk}).content.decode()
    )
    assert "引き継ぎを送付" in body and "シートを作成" in body
    rows = body.split('data-testid="audit-table"')[1]
    assert "引き継ぎを閲覧" not in rows  # the NPO's read is the NPO's business
    assert f"#{unrelated.pk}" not in rows
    verify_new_events()  # beat's job: the page shows the stored outcome, never walks
    everything = login(net.supervisor).get(reverse("relay:audit-log")).content.decode()
    assert f">#{unrelated.pk}<" not in everything
    assert 'data-testid="chain-status"' in everything and "改ざんなし" in everything


def test_audit_filters(net, login, sent) -> None:
    client = login(net.supervisor)
    only_sends = client.get(
        reverse("relay:audit-log"), {"action": AuditAction.HANDOFF_SENT}
    ).content.decode()
    table = only_sends.split('data-testid="audit-table"')[1]
    assert "引き継ぎを送付" in table and "シートを作成" not in table
    by_actor = client.get(reverse("relay:audit-log"), {"actor": "counselor"}).content.decode()
    assert "counselor(" in by_actor
    by_agency = client.get(reverse("relay:audit-log"), {"agency": net.npo.pk}).content.decode()
    assert "引き継ぎを送付" in by_agency  # the NPO was the recipient
    empty = client.get(reverse("relay:audit-log"), {"start": "2000-01-01", "end": "2000-01-31"})
    assert "該当する記録はありません。" in empty.content.decode()


def _ids_on(body: str) -> list[int]:
    table = body.split('data-testid="audit-table"')[1].split("</table>")[0]
    return [int(i) for i in re.findall(r'<td class="mono">(\d+)</td>', table)]


def _link(body: str, testid: str) -> str | None:
    found = re.search(rf'data-testid="{testid}" href="\?([^"]+)"', body)
    return found.group(1).replace("&amp;", "&") if found else None


def test_audit_log_pages_by_id_through_every_event_once(net, login, sent) -> None:
    """Keyset pages (?before= / ?after=, never OFFSET): older then newer again, no event
    skipped or shown twice, even when new events arrive while paging."""
    sheet, _hop = sent
    for _ in range(110):
        services.sheet_view(staff=net.counselor, sheet_id=sheet.pk)
    client = login(net.supervisor)
    url = reverse("relay:audit-log")
    expected = list(audit_events_visible_to(agency=net.ward).values_list("pk", flat=True))
    first = client.get(url).content.decode()
    assert f"{len(expected)} 件" in first
    assert _link(first, "page-newer") is None
    seen, body, pages = _ids_on(first), first, [first]
    services.sheet_view(staff=net.counselor, sheet_id=sheet.pk)  # arrives while paging
    while (query := _link(body, "page-older")) is not None:
        body = client.get(f"{url}?{query}").content.decode()
        pages.append(body)
        seen += _ids_on(body)
    assert seen == expected  # newest first, each once; the late arrival is not wedged in
    assert len(pages) == 3 and all(len(_ids_on(p)) == 50 for p in pages[:2])
    back = client.get(f"{url}?{_link(pages[2], 'page-newer')}").content.decode()
    assert _ids_on(back) == _ids_on(pages[1])
    filtered = client.get(url, {"action": AuditAction.SHEET_VIEWED}).content.decode()
    older = _link(filtered, "page-older")
    assert older is not None and f"action={AuditAction.SHEET_VIEWED}" in older
    assert "before=" in older and "page=" not in older


def test_audit_log_counts_only_up_to_the_cap(net, login, sent, monkeypatch) -> None:
    """A trail of millions is not counted on each request: past the cap the page says
    "or more"."""
    sheet, _hop = sent
    for _ in range(12):
        services.sheet_view(staff=net.counselor, sheet_id=sheet.pk)
    monkeypatch.setattr(base_views, "COUNT_CAP", 10)
    body = login(net.supervisor).get(reverse("relay:audit-log")).content.decode()
    assert "10 件以上" in body
    assert len(_ids_on(body)) > 10  # the page itself is not capped by the count


def test_csv_export_is_audited_and_filtered(net, login, sent) -> None:
    sheet, _hop = sent
    net.sheet()
    response = login(net.supervisor).get(reverse("relay:audit-export"), {"sheet": sheet.pk})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="tsunagu-audit-')
    rows = _csv(response)
    assert rows and {r["sheet_id"] for r in rows} == {str(sheet.pk)}
    assert AuditAction.HANDOFF_SENT in {r["action"] for r in rows}
    export = AuditEvent.objects.filter(action=AuditAction.AUDIT_EXPORTED).get()
    assert export.actor_user_id == net.supervisor.user_id
    assert export.detail["filters"]["sheet_id"] == sheet.pk
    assert export.detail["rows"] == len(rows)


def test_csv_cells_cannot_carry_formulas(net, login) -> None:
    from csvexport import neutralise as _safe

    assert _safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _safe("@SUM") == "'@SUM"
    assert _safe("A.T") == "A.T"


def test_provision_records_list_sent_hops_and_receipts_and_export_is_audited(
    net, login, sent
) -> None:
    sheet, hop = sent
    body = login(net.supervisor).get(reverse("relay:provision-records")).content.decode()
    assert f"A.T #{sheet.pk}" in body
    assert net.npo.name in body
    assert f"本人・保護者の同意 #{hop.consent_id}" in body
    assert "基本情報、相談内容" in body
    receipts = (
        login(net.npo_supervisor)
        .get(reverse("relay:provision-records"), {"direction": "received"})
        .content.decode()
    )
    assert f"A.T #{sheet.pk}" in receipts  # the NPO may read the basic section
    response = login(net.supervisor).get(reverse("relay:provision-records"), {"format": "csv"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert f"A.T #{sheet.pk}" in text and net.npo.name in text
    event = AuditEvent.objects.get(action=AuditAction.PROVISION_RECORDS_EXPORTED)
    assert event.detail["rows"] == 1 and event.detail["handoff_ids"] == [hop.pk]


def test_receipts_without_the_basic_section_show_the_sheet_id_only(net, login) -> None:
    sheet = net.sheet()
    net.consent(sheet, sections=["consultation"])
    net.send(sheet, sections=["consultation"])
    body = login(net.npo_supervisor).get(reverse("relay:provision-records")).content.decode()
    assert f"#{sheet.pk}" in body and "A.T" not in body


def test_metrics_page_draws_charts_from_the_figures(net, login, sent) -> None:
    _sheet, hop = sent
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    sheet2 = net.sheet()
    net.consent(sheet2, to=[net.guidance])
    declined = net.send(sheet2, to=net.guidance)
    services.handoff_decline(
        staff=net.guidance_intake, handoff_id=declined.pk, reason="no_capacity"
    )
    body = login(net.supervisor).get(reverse("relay:metrics")).content.decode()
    assert body.count("<svg") == 4  # acknowledgment, states, escalations per week, declines
    assert net.npo.name in body
    assert "受け入れ枠がない" in body
    assert "受領確認済み" in body


def test_reports_percentiles() -> None:
    from relay.reports import median, percentile

    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert median(values) == 5.5
    assert percentile(values, 90) == 9.0
    assert percentile([], 90) is None and median([]) is None
