"""Consent recorded where the person is: the Adachi story at the service level.

Ward desk → (guardian's consent) → education support center; the family consents at the
center to a free school; the center relays onward under its own consent; the first sender sees
the chain; a withdrawal at either point stops the hops it covers and no other.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.errors import (
    ConsentDoesNotCover,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from audit.models import AuditAction, AuditEvent
from consent.models import ConsentStatus
from consent.vocabulary import Purpose
from relay import selectors, services
from relay.models import Provision, SheetAccess
from relay.states import CancelReason, DeclineReason, Status
from tests.adachi import Adachi, build_adachi

pytestmark = pytest.mark.django_db


@pytest.fixture
def adachi(db) -> Adachi:
    """The Adachi network (tests/adachi.py)."""
    return build_adachi()


def _events(action: AuditAction, object_id: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_id=str(object_id)))


def test_the_adachi_story_end_to_end(adachi: Adachi) -> None:
    """GIVEN the ward desk relayed the sheet to the center under the guardian's consent
    WHEN the family consents at the center to the free school and the center relays onward
    THEN the onward hop went under the center's own record, its provision names the record and
    the center as its recorder, the free school reads only what the center held and sent, and
    the ward's chain shows both hops with whose consent each went under."""
    sheet = adachi.sheet()
    ward_record = adachi.ward_consent(sheet)
    first = adachi.first_hop(sheet)
    # Before the family consents at the center, the ward's consent does not name the school.
    with pytest.raises(ConsentDoesNotCover):
        adachi.onward_hop(sheet)

    record = adachi.center_consent(sheet)
    assert record.agency_id == adachi.center.pk and record.sheet_id == sheet.pk
    assert record.obtained_by_id == adachi.center_counselor.user_id
    recorded = _events(AuditAction.CONSENT_RECORDED, record.pk)
    assert len(recorded) == 1 and recorded[0].actor_agency_id == adachi.center.pk

    onward = adachi.onward_hop(sheet)
    assert onward.status == Status.SENT and onward.parent_id == first.pk
    assert onward.consent_id == record.pk
    provision = Provision.objects.get(handoff=onward)
    assert (provision.consent_id, provision.consent_agency_id) == (record.pk, adachi.center.pk)
    first_provision = Provision.objects.get(handoff=first)
    assert (first_provision.consent_id, first_provision.consent_agency_id) == (
        ward_record.pk,
        adachi.ward.pk,
    )

    view = services.sheet_view(staff=adachi.school_intake, sheet_id=sheet.pk)
    assert set(view.sections) == {"basic", "attendance"}
    assert "consultation" not in view.content and "health" not in view.content

    chains = selectors.hop_chains_for(agency=adachi.ward, sheets=[sheet])[sheet.pk]
    assert [(h.pk, h.depth) for h in chains] == [(first.pk, 0), (onward.pk, 1)]  # type: ignore[attr-defined]
    assert [h.consent.agency_id for h in chains] == [adachi.ward.pk, adachi.center.pk]


def test_the_ward_consent_covers_an_onward_hop_when_it_names_the_third_agency(
    adachi: Adachi,
) -> None:
    """GIVEN the ward's consent names the center and the free school WHEN the center relays on
    without a consent of its own THEN it goes under the ward's record, which the provision
    names with the ward as recorder."""
    sheet = adachi.sheet()
    ward_record = adachi.ward_consent(sheet, recipients=[adachi.center, adachi.free_school])
    adachi.first_hop(sheet)
    onward = adachi.onward_hop(sheet)
    provision = Provision.objects.get(handoff=onward)
    assert (provision.consent_id, provision.consent_agency_id) == (ward_record.pk, adachi.ward.pk)


def test_withdrawing_the_ward_consent_stops_hop_one_but_not_the_centers_hop(
    adachi: Adachi,
) -> None:
    """GIVEN both hops were sent, each under its own agency's consent WHEN the guardian
    withdraws the ward's consent at the ward THEN hop 1 is withdrawn and the center loses what
    it held, while the center's onward hop (under the center's consent) stays open and the
    free school keeps reading it."""
    sheet = adachi.sheet()
    ward_record = adachi.ward_consent(sheet)
    first = adachi.first_hop(sheet)
    adachi.center_consent(sheet)
    onward = adachi.onward_hop(sheet)

    stopped = services.consent_withdraw(
        staff=adachi.ward_counselor, record_id=ward_record.pk, via="保護者から電話で"
    )

    assert [h.pk for h in stopped] == [first.pk]
    first.refresh_from_db()
    onward.refresh_from_db()
    assert first.status == Status.WITHDRAWN
    assert onward.status == Status.SENT
    assert not SheetAccess.objects.filter(handoff=first).exists()
    assert SheetAccess.objects.filter(handoff=onward).exists()
    assert services.sheet_view(staff=adachi.school_intake, sheet_id=sheet.pk).sections
    # The center holds nothing any more: it can neither record consent nor relay again.
    with pytest.raises(NotFound):
        adachi.center_consent(sheet, recipients=[adachi.outsider])
    assert _events(AuditAction.HANDOFF_WITHDRAWN, first.pk)
    assert not _events(AuditAction.HANDOFF_WITHDRAWN, onward.pk)


def test_withdrawing_the_centers_consent_stops_only_the_onward_hop(adachi: Adachi) -> None:
    """GIVEN both hops were sent WHEN the family withdraws, at the center, the consent they
    gave there THEN the onward hop is withdrawn and the free school loses access; hop 1 (under
    the ward's consent) goes on and the center still holds the sheet."""
    sheet = adachi.sheet()
    adachi.ward_consent(sheet)
    first = adachi.first_hop(sheet)
    center_record = adachi.center_consent(sheet)
    onward = adachi.onward_hop(sheet)

    stopped = services.consent_withdraw(
        staff=adachi.center_intake, record_id=center_record.pk, via="本人が来所して"
    )

    assert [h.pk for h in stopped] == [onward.pk]
    first.refresh_from_db()
    onward.refresh_from_db()
    assert (first.status, onward.status) == (Status.ACCEPTED, Status.WITHDRAWN)
    with pytest.raises(NotFound):
        services.sheet_view(staff=adachi.school_intake, sheet_id=sheet.pk)
    assert services.sheet_view(staff=adachi.center_counselor, sheet_id=sheet.pk).sections
    withdrawn = _events(AuditAction.CONSENT_WITHDRAWN, center_record.pk)
    assert len(withdrawn) == 1 and withdrawn[0].actor_agency_id == adachi.center.pk


def test_only_the_recording_agency_withdraws_its_record(adachi: Adachi) -> None:
    """The owner cannot withdraw the center's record, nor the center the ward's: NotFound,
    as for a record that does not exist; nothing changes."""
    sheet = adachi.sheet()
    ward_record = adachi.ward_consent(sheet)
    adachi.first_hop(sheet)
    center_record = adachi.center_consent(sheet)
    with pytest.raises(NotFound):
        services.consent_withdraw(staff=adachi.ward_counselor, record_id=center_record.pk, via="x")
    with pytest.raises(NotFound):
        services.consent_withdraw(staff=adachi.center_counselor, record_id=ward_record.pk, via="x")
    with pytest.raises(NotAllowed):
        services.consent_withdraw(staff=adachi.center_viewer, record_id=center_record.pk, via="x")
    center_record.refresh_from_db()
    ward_record.refresh_from_db()
    assert center_record.status == ward_record.status == ConsentStatus.ACTIVE


def test_a_holder_records_consent_only_for_the_sections_it_holds(adachi: Adachi) -> None:
    """The center received basic, consultation and attendance: consent naming health (which
    it never received) is refused, naming the field; nothing is recorded."""
    sheet = adachi.sheet()
    adachi.ward_consent(sheet)
    adachi.first_hop(sheet)
    with pytest.raises(InvalidInput) as refused:
        adachi.center_consent(sheet, sections=["basic", "health"])
    assert refused.value.field == "sections"
    assert refused.value.context["not_held"] == ["health"]
    assert sheet.consents.filter(agency=adachi.center).count() == 0


def test_who_may_record_consent_at_a_holder(adachi: Adachi) -> None:
    """Intake, counselors and supervisors record the consent obtained at the counter; a viewer
    may not; a lawful basis is a counselor's or supervisor's and waits for the center's own
    supervisor (the ward's supervisor cannot approve it)."""
    sheet = adachi.sheet()
    adachi.ward_consent(sheet)
    adachi.first_hop(sheet)
    assert adachi.center_consent(sheet, staff=adachi.center_intake).agency_id == adachi.center.pk
    with pytest.raises(NotAllowed):
        adachi.center_consent(sheet, staff=adachi.center_viewer)
    basis_scope = {
        "sheet_id": sheet.pk,
        "basis": "life_or_body",
        "reason": "本人の生命に危険があり同意を得る時間がない",
        "recipients": [adachi.free_school],
        "sections": ["basic"],
        "purposes": [Purpose.PROTECTION],
        "valid_until": timezone.now() + timedelta(days=30),
    }
    with pytest.raises(NotAllowed):
        services.lawful_basis_record(staff=adachi.center_intake, **basis_scope)
    basis = services.lawful_basis_record(staff=adachi.center_counselor, **basis_scope)
    assert basis.agency_id == adachi.center.pk
    with pytest.raises(NotFound):
        services.lawful_basis_decide(staff=adachi.ward_supervisor, record_id=basis.pk, approve=True)
    approved = services.lawful_basis_decide(
        staff=adachi.center_supervisor, record_id=basis.pk, approve=True
    )
    assert approved.approval == "approved"


def test_an_agency_that_does_not_hold_the_sheet_cannot_record_consent(adachi: Adachi) -> None:
    """Not sent to it; sent but not yet acknowledged; declined; cancelled: NotFound each time."""
    sheet = adachi.sheet()
    adachi.ward_consent(sheet, recipients=[adachi.center, adachi.outsider])
    with pytest.raises(NotFound):
        adachi.center_consent(sheet)  # nothing sent yet
    hop = services.handoff_relay(
        staff=adachi.ward_counselor,
        sheet_id=sheet.pk,
        to_agency=adachi.center,
        sections=["basic"],
        purpose=Purpose.SUPPORT,
    )
    with pytest.raises(NotFound):
        adachi.center_consent(sheet, sections=["basic"])  # sent, not taken up
    services.handoff_decline(
        staff=adachi.center_intake, handoff_id=hop.pk, reason=DeclineReason.NO_CAPACITY
    )
    with pytest.raises(NotFound):
        adachi.center_consent(sheet, sections=["basic"])
    other = services.handoff_relay(
        staff=adachi.ward_counselor,
        sheet_id=sheet.pk,
        to_agency=adachi.outsider,
        sections=["basic"],
        purpose=Purpose.SUPPORT,
    )
    services.handoff_acknowledge(staff=adachi.outsider_counselor, handoff_id=other.pk)
    services.handoff_cancel(
        staff=adachi.ward_counselor, handoff_id=other.pk, reason=CancelReason.NO_LONGER_NEEDED
    )
    with pytest.raises(NotFound):
        adachi.center_consent(
            sheet, staff=adachi.outsider_counselor, recipients=[adachi.free_school]
        )
    assert not sheet.consents.exclude(agency=adachi.ward).exists()


def test_the_owner_cannot_send_under_a_holders_consent(adachi: Adachi) -> None:
    """The family consented at the center to what the center passes on: the ward cannot send
    to the free school under that record (the policy: `consent.policy.usable_by`)."""
    sheet = adachi.sheet()
    adachi.ward_consent(sheet)
    adachi.first_hop(sheet)
    center_record = adachi.center_consent(sheet)
    with pytest.raises(ConsentDoesNotCover):
        services.handoff_relay(
            staff=adachi.ward_counselor,
            sheet_id=sheet.pk,
            to_agency=adachi.free_school,
            sections=["basic"],
            purpose=Purpose.SUPPORT,
        )
    with pytest.raises(ConsentDoesNotCover):
        services.handoff_relay(
            staff=adachi.ward_counselor,
            sheet_id=sheet.pk,
            to_agency=adachi.free_school,
            sections=["basic"],
            purpose=Purpose.SUPPORT,
            consent_id=center_record.pk,
        )


def test_a_refusal_recorded_at_the_center_binds_the_owner_too(adachi: Adachi) -> None:
    """A refusal wins whoever recorded it: the family refused the free school at the center,
    so the ward's broader consent no longer lets anyone send it there."""
    sheet = adachi.sheet()
    adachi.ward_consent(sheet, recipients=[adachi.center, adachi.free_school])
    adachi.first_hop(sheet)
    adachi.center_consent(sheet, decision="deny", sections=["basic"])
    for staff in (adachi.center_counselor, adachi.ward_counselor):
        with pytest.raises(ConsentDoesNotCover) as refused:
            services.handoff_relay(
                staff=staff,
                sheet_id=sheet.pk,
                to_agency=adachi.free_school,
                sections=["basic"],
                purpose=Purpose.SUPPORT,
            )
        assert refused.value.context["reason"] == "refused"


def test_a_withdrawn_record_cannot_be_withdrawn_twice(adachi: Adachi) -> None:
    sheet = adachi.sheet()
    adachi.ward_consent(sheet)
    adachi.first_hop(sheet)
    record = adachi.center_consent(sheet)
    services.consent_withdraw(staff=adachi.center_counselor, record_id=record.pk, via="本人")
    with pytest.raises(IllegalTransition):
        services.consent_withdraw(staff=adachi.center_counselor, record_id=record.pk, via="本人")


def test_withdrawing_the_ward_consent_also_stops_onward_hops_sent_under_it(
    adachi: Adachi,
) -> None:
    """GIVEN the ward's consent names the center and the free school, and the center relayed
    onward under it (no consent of its own) WHEN the guardian withdraws it THEN both hops stop:
    the onward one went under the withdrawn record too."""
    sheet = adachi.sheet()
    ward_record = adachi.ward_consent(sheet, recipients=[adachi.center, adachi.free_school])
    first = adachi.first_hop(sheet)
    onward = adachi.onward_hop(sheet)
    assert onward.consent_id == ward_record.pk

    stopped = services.consent_withdraw(
        staff=adachi.ward_counselor, record_id=ward_record.pk, via="保護者から電話で"
    )

    assert sorted(h.pk for h in stopped) == [first.pk, onward.pk]
    assert not SheetAccess.objects.filter(handoff__in=[first, onward]).exists()


def test_an_approved_basis_at_the_center_carries_the_onward_hop(adachi: Adachi) -> None:
    """A lawful basis the center's counselor records and the center's supervisor approves
    covers the center's onward send like its consent would; the provision names it."""
    sheet = adachi.sheet()
    adachi.ward_consent(sheet)
    adachi.first_hop(sheet)
    basis = services.lawful_basis_record(
        staff=adachi.center_counselor,
        sheet_id=sheet.pk,
        basis="life_or_body",
        reason="本人の安全確認が急がれ、保護者と連絡が取れない",
        recipients=[adachi.free_school],
        sections=["basic"],
        purposes=[Purpose.PROTECTION],
        valid_until=timezone.now() + timedelta(days=14),
    )
    services.lawful_basis_decide(staff=adachi.center_supervisor, record_id=basis.pk, approve=True)
    onward = services.handoff_relay(
        staff=adachi.center_supervisor,
        sheet_id=sheet.pk,
        to_agency=adachi.free_school,
        sections=["basic"],
        purpose=Purpose.PROTECTION,
    )
    provision = Provision.objects.get(handoff=onward)
    assert (provision.consent_id, provision.consent_agency_id) == (basis.pk, adachi.center.pk)
