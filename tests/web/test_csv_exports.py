"""Every CSV the project writes goes through the one writer: a hostile agency name or initials
come out neutralised, with the BOM, and Japanese intact, in each export (the supervisor's audit
log and provision records downloads, and `manage.py export_provision_records`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from csvexport import FORMULA_LEADERS
from relay.models import ReferralSheet

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1", "-1", "@x", "\t=1+1", "\r=1+1"]
JAPANESE = "足立区福祉まるごと相談課"


def _rows(raw: bytes) -> list[list[str]]:
    assert raw.startswith(b"\xef\xbb\xbf"), "no BOM: Excel would misread the Japanese"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def _assert_neutralised(rows: list[list[str]], value: str) -> None:
    cells = [cell for row in rows for cell in row]
    assert "'" + value in cells
    assert not [c for c in cells if c.startswith(FORMULA_LEADERS)]


@pytest.fixture
def hostile(net, request):
    """The receiving agency is named, and the subject's initials are, with a formula."""
    value = request.param
    net.ward.name = JAPANESE
    net.ward.save(update_fields=["name"])
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    net.npo.name = value
    net.npo.save(update_fields=["name"])
    # Straight to the table: the form would refuse these initials, an old import might not.
    ReferralSheet.objects.filter(pk=sheet.pk).update(subject_initials=value[:12])
    return value[:12], value, sheet, hop


@pytest.mark.parametrize("hostile", HOSTILE, indirect=True)
def test_audit_log_download(net, login, hostile) -> None:
    _initials, name, sheet, _hop = hostile
    response = login(net.supervisor).get(reverse("relay:audit-export"), {"sheet": sheet.pk})
    rows = _rows(b"".join(response.streaming_content))
    _assert_neutralised(rows, name)  # the recipient agency's name
    assert any(JAPANESE in cell for row in rows for cell in row)


@pytest.mark.parametrize("hostile", HOSTILE, indirect=True)
def test_provision_records_download(net, login, hostile) -> None:
    initials, name, sheet, _hop = hostile
    response = login(net.supervisor).get(reverse("relay:provision-records"), {"format": "csv"})
    rows = _rows(b"".join(response.streaming_content))
    _assert_neutralised(rows, name)
    _assert_neutralised(rows, f"{initials} #{sheet.pk}")
    assert JAPANESE in rows[1]


@pytest.mark.parametrize("hostile", HOSTILE, indirect=True)
def test_provision_records_command_file(net, hostile, tmp_path: Path) -> None:
    initials, name, _sheet, _hop = hostile
    today = timezone.localdate().isoformat()
    for layout in ("coded", "labelled"):
        target = tmp_path / f"{layout}.csv"
        call_command(
            "export_provision_records",
            start=today,
            end=today,
            output=target,
            layout=layout,
            stderr=io.StringIO(),
        )
        rows = _rows(target.read_bytes())
        _assert_neutralised(rows, name)
        assert JAPANESE in rows[1]
        assert any(cell.startswith(f"'{initials} ") for row in rows for cell in row)


@pytest.mark.parametrize("hostile", HOSTILE[:1], indirect=True)
def test_provision_records_command_stdout_is_for_programs(net, hostile) -> None:
    """stdout is read by programs: no BOM, but formulas are neutralised all the same."""
    _initials, name, _sheet, _hop = hostile
    today = timezone.localdate().isoformat()
    out = io.StringIO()
    call_command(
        "export_provision_records", start=today, end=today, stdout=out, stderr=io.StringIO()
    )
    assert not out.getvalue().startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    _assert_neutralised(rows, name)
