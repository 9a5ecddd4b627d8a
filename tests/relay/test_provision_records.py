"""`manage.py export_provision_records`: the APPI records of provision and receipt."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def _export(**options) -> list[dict[str, str]]:
    out = io.StringIO()
    today = timezone.localdate().isoformat()
    call_command(
        "export_provision_records", **{"start": today, "end": today, **options}, stdout=out
    )
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_every_sent_hop_is_a_provision_and_a_receipt(net) -> None:
    sheet = net.sheet()
    record = net.consent(sheet, to=[net.npo, net.guidance])
    hop = net.send(sheet)
    net.send(sheet, to=net.guidance, sections=["basic"])
    draft_only = net.sheet(subject_initials="Z.Z")  # never sent: no record
    assert draft_only.pk

    rows = _export()
    assert len(rows) == 4
    first = rows[0]
    assert first["direction"] == "provided" and first["handoff_id"] == str(hop.pk)
    assert first["provider"] == net.ward.name and first["recipient"] == net.npo.name
    assert first["subject_reference"] == f"A.T (シート #{sheet.pk})"
    assert first["sections"] == "basic consultation"
    assert first["basis"] == "consent" and first["consent_id"] == str(record.pk)
    assert rows[1]["direction"] == "received"


def test_agency_filter_gives_its_own_side_only(net) -> None:
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    net.send(sheet)
    net.send(sheet, to=net.guidance, sections=["basic"])
    rows = _export(agency="npo")
    assert [(r["direction"], r["recipient"]) for r in rows] == [("received", net.npo.name)]


def test_the_export_is_itself_audited(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    net.send(sheet)
    _export(sheet=sheet.pk)
    event = AuditEvent.objects.get(action=AuditAction.PROVISION_RECORDS_EXPORTED)
    assert event.sheet_id == sheet.pk and event.detail["rows"] == 2
