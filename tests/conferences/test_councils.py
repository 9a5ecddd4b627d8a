"""A lawful basis naming a council covers only the council's members, for its purposes,
while they are members; provision records name the council."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from agencies.errors import ConsentDoesNotCover, InvalidInput
from audit.models import AuditAction, AuditEvent
from conferences import services as conferences
from consent.vocabulary import Basis, Purpose
from relay import services
from relay.provision import ProvisionQuery, basis_text, provision_records
from tests.conferences.conftest import council_basis

pytestmark = pytest.mark.django_db


def test_a_council_basis_cannot_name_a_non_member(same_ward, council) -> None:
    """GIVEN the ward's 要対協 without the welfare office WHEN a basis naming the council
    names the welfare office THEN it is refused, naming the field and the reason; nothing is
    recorded."""
    net = same_ward
    sheet = net.sheet()
    with translation.override("ja"), pytest.raises(InvalidInput) as refused:
        council_basis(net, sheet, council, recipients=[net.guidance, net.welfare])
    assert refused.value.field == "recipients"
    assert "構成機関ではない" in str(refused.value) and net.welfare.name in str(refused.value)
    assert not sheet.consents.exists()


def test_a_council_basis_must_name_the_council_where_there_is_one(same_ward, council) -> None:
    net = same_ward
    sheet = net.sheet()
    with pytest.raises(InvalidInput) as refused:
        services.lawful_basis_record(
            staff=net.counselor,
            sheet_id=sheet.pk,
            basis=Basis.YOTAIKYO,
            reason="要対協",
            recipients=[net.welfare],
            sections=["basic"],
            purposes=[Purpose.CASE_CONFERENCE],
            valid_until=timezone.now() + timedelta(days=30),
        )
    assert refused.value.field == "council"


def test_a_council_basis_serves_only_the_councils_purposes(same_ward) -> None:
    net = same_ward
    council = conferences.council_create(
        staff=net.supervisor,
        kind="yotaikyo",
        name="会議",
        members=[net.guidance],
        purposes=[Purpose.CASE_CONFERENCE],
    )
    with pytest.raises(InvalidInput) as refused:
        services.lawful_basis_record(
            staff=net.counselor,
            sheet_id=net.sheet().pk,
            basis=Basis.YOTAIKYO,
            reason="要対協",
            recipients=[net.guidance],
            sections=["basic"],
            purposes=[Purpose.SUPPORT],
            valid_until=timezone.now() + timedelta(days=30),
            council=council,
        )
    assert refused.value.field == "purposes"


def test_a_member_that_left_the_council_is_no_longer_covered(same_ward, council) -> None:
    """GIVEN an approved basis naming the council and child guidance WHEN child guidance
    leaves the council THEN a send to it is refused with the reason "not-council-member"."""
    net = same_ward
    sheet = net.sheet()
    basis = council_basis(net, sheet, council)
    conferences.council_member_end(
        staff=net.supervisor, council_id=council.pk, agency_id=net.guidance.pk
    )
    hop = services.handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.guidance,
        sections=["basic"],
        purpose=Purpose.CASE_CONFERENCE,
        consent_id=basis.pk,
    )
    with pytest.raises(ConsentDoesNotCover) as refused:
        services.handoff_submit(staff=net.counselor, handoff_id=hop.pk)
    assert refused.value.context["reason"] == "not-council-member"
    assert AuditEvent.objects.filter(action=AuditAction.COUNCIL_SAVED).count() == 2


def test_provision_records_name_the_council(same_ward, council) -> None:
    net = same_ward
    sheet = net.sheet()
    basis = council_basis(net, sheet, council)
    net.send(sheet, to=net.guidance, sections=["basic"], purpose=Purpose.CASE_CONFERENCE)
    (row,) = provision_records(
        ProvisionQuery(
            start=timezone.now() - timedelta(days=1),
            end=timezone.now() + timedelta(days=1),
            agency=net.ward,
            direction="provided",
        )
    )
    assert row.consent_id == basis.pk and row.council == council.name
    assert council.name in basis_text(row)
