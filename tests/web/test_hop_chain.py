"""Closing the loop: a "referred on" outcome points at the next hop, and the first sender's
home shows each sheet's chain of hops with their states (no content)."""

from __future__ import annotations

import pytest

from relay import services

pytestmark = pytest.mark.django_db


def test_the_sender_sees_where_the_person_landed(net, login) -> None:
    """GIVEN the ward sends to the NPO, which relays onward to child guidance and records
    "referred on" WHEN the ward's counselor opens home THEN the chain shows both hops, the
    outcome and the next hop's receiver; the NPO's own notes never appear."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    first = net.send(sheet)
    services.handoff_accept(staff=net.npo_intake, handoff_id=first.pk, note="本人面談済み")
    draft = services.handoff_create(
        staff=net.npo_supervisor,
        sheet_id=sheet.pk,
        to_agency=net.guidance,
        sections=["basic"],
        purpose="support",
    )
    onward = services.handoff_submit(staff=net.npo_supervisor, handoff_id=draft.pk)
    assert onward.parent_id == first.pk
    services.handoff_complete(
        staff=net.npo_intake, handoff_id=first.pk, outcome="referred_on", note="児相へ"
    )
    body = login(net.counselor).get("/").content.decode()
    assert f'data-chain-sheet="{sheet.pk}"' in body
    assert f'data-chain-hop="{first.pk}"' in body and f'data-chain-hop="{onward.pk}"' in body
    assert f"次の引き継ぎ #{onward.pk}({net.guidance.name})" in body
    assert "本人面談済み" not in body and "児相へ" not in body


def test_another_agency_sees_no_chain_of_a_sheet_it_does_not_own(net, login) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    net.send(sheet)
    body = login(net.npo_supervisor).get("/").content.decode()
    assert "data-chain-sheet" not in body
