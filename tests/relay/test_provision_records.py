"""`manage.py export_provision_records`: the APPI records of provision and receipt."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from relay import services
from relay.models import Provision
from tests.fixtures import sign_in

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


def test_initials_are_masked_as_on_the_supervisor_screen(net) -> None:
    """GIVEN a hop that shares no basic section WHEN every agency's records are exported
    THEN the sender's record names the initials and the receiver's gives the sheet id only,
    as the receiver's own supervisor screen does."""
    sheet = net.sheet()
    net.consent(sheet, sections=["consultation"])
    net.send(sheet, sections=["consultation"])
    provided, received = _export()
    assert provided["subject_reference"] == f"A.T (シート #{sheet.pk})"
    assert received["subject_reference"] == f"シート #{sheet.pk}"
    assert "A.T" not in str(_export(agency="npo"))


def test_the_export_names_who_ran_it_and_whose_records(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    _export(agency="ward")
    event = AuditEvent.objects.get(action=AuditAction.PROVISION_RECORDS_EXPORTED)
    assert event.actor_kind == "system"
    assert event.actor_label.startswith("export_provision_records (os user: ")
    assert event.recipient_agency_id == net.ward.pk
    assert (event.object_type, event.object_id) == ("report", "provision_records")
    assert event.detail["handoff_ids"] == [hop.pk] and event.detail["rows"] == 1


def test_the_screen_and_the_command_write_the_same_event(net, client) -> None:
    """The supervisor's download is audited like the command's, with the person as actor."""
    from django.urls import reverse

    sheet = net.sheet()
    net.consent(sheet)
    net.send(sheet)
    sign_in(client, net.supervisor.user)
    response = client.get(reverse("relay:provision-records"), {"format": "csv"})
    b"".join(response.streaming_content)
    _export(agency="ward")
    web, command = AuditEvent.objects.filter(
        action=AuditAction.PROVISION_RECORDS_EXPORTED
    ).order_by("id")
    assert web.actor_user_id == net.supervisor.user_id and web.actor_kind == "user"
    for key in ("object_type", "object_id", "recipient_agency_id", "sheet_id"):
        assert getattr(web, key) == getattr(command, key)
    assert set(web.detail) == set(command.detail)


def test_every_version_is_a_record_with_its_content_hash(net, sent) -> None:
    """GIVEN a hop sent, then updated after an edit WHEN the records are exported (command and
    screen) THEN each version is its own record, with the hash the audit trail holds."""
    services.sheet_update(
        staff=net.counselor,
        sheet_id=sent.sheet_id,
        data={"consultation": "面談の結果を追記"},
        reason="追記",
    )
    services.handoff_send_update(staff=net.counselor, handoff_id=sent.pk)
    hashes = dict(Provision.objects.filter(handoff=sent).values_list("version", "content_hash"))

    rows = _export(agency="ward")
    assert [(r["version"], r["content_hash"]) for r in rows] == [
        ("1", hashes[1]),
        ("2", hashes[2]),
    ]
    audited = {
        e.detail["content_hash"]
        for e in AuditEvent.objects.filter(
            action__in=[AuditAction.HANDOFF_SENT, AuditAction.HANDOFF_UPDATED]
        )
    }
    assert audited == set(hashes.values())

    client = Client()
    sign_in(client, net.supervisor.user)
    page = client.get(reverse("relay:provision-records")).content.decode()
    assert page.count('data-testid="provision-version"') == 2
    assert hashes[2][:10] in page
