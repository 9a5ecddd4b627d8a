"""relay.access answers "which sheet, hop or consent record may this staff member use" for
services, screens and the API alike: missing and forbidden are the same NotFound."""

from __future__ import annotations

import pytest

from agencies.errors import NotAllowed, NotFound
from relay import access, services

pytestmark = pytest.mark.django_db
MISSING = 10**9


def test_sheet_for_gives_the_readable_sections_and_hides_the_rest(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    net.send(sheet, sections=["basic"])
    assert access.sheet_for(staff=net.npo_intake, sheet_id=sheet.pk).sections == {"basic"}
    assert "health" in access.sheet_for(staff=net.counselor, sheet_id=sheet.pk).sections
    for staff, sheet_id in ((net.guidance_intake, sheet.pk), (net.counselor, MISSING)):
        with pytest.raises(NotFound):
            access.sheet_for(staff=staff, sheet_id=sheet_id)


def test_only_the_owner_gets_its_sheet_to_change(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    net.send(sheet)
    assert access.sheet_owned_by(staff=net.counselor, sheet_id=sheet.pk) == sheet
    for staff, sheet_id in ((net.npo_intake, sheet.pk), (net.counselor, MISSING)):
        with pytest.raises(NotFound):
            access.sheet_owned_by(staff=staff, sheet_id=sheet_id)


def test_handoff_for_sides(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    assert access.handoff_for(staff=net.npo_intake, handoff_id=hop.pk) == hop
    with pytest.raises(NotAllowed):
        access.handoff_for(staff=net.npo_intake, handoff_id=hop.pk, side=access.Side.SENDER)
    with pytest.raises(NotAllowed):
        access.handoff_for(staff=net.counselor, handoff_id=hop.pk, side=access.Side.RECEIVER)
    for staff, handoff_id in ((net.guidance_intake, hop.pk), (net.counselor, MISSING)):
        with pytest.raises(NotFound):
            access.handoff_for(staff=staff, handoff_id=handoff_id)


def test_a_hop_never_sent_does_not_exist_for_its_would_be_receiver(net) -> None:
    """GIVEN a draft cancelled before sending WHEN the named receiver asks for it THEN 404,
    the same as for any hop it was never sent: it learns nothing from the id."""
    sheet = net.sheet()
    draft = services.handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.npo,
        sections=["basic"],
        purpose="support",
    )
    with pytest.raises(NotFound):
        access.handoff_for(staff=net.npo_intake, handoff_id=draft.pk)
    services.handoff_cancel(staff=net.counselor, handoff_id=draft.pk, reason="sent_in_error")
    with pytest.raises(NotFound):
        access.handoff_for(staff=net.npo_intake, handoff_id=draft.pk, side=access.Side.SENDER)


def test_consent_records_belong_to_the_agency_that_obtained_them(net) -> None:
    record = net.consent(net.sheet())
    assert access.consent_record_for(staff=net.supervisor, record_id=record.pk) == record
    for staff, record_id in ((net.npo_supervisor, record.pk), (net.counselor, MISSING)):
        with pytest.raises(NotFound):
            access.consent_record_for(staff=staff, record_id=record_id)
