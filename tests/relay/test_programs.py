"""A hop may target a program of the receiving agency. The person is checked against whom the
program (or, without one, the agency) serves: a mismatch is refused unless the sender gives a
reason, which is kept as a note and named by the audit event. An adult (18+) is not covered by
a guardian's consent alone, at recording or at send."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.errors import ConsentDoesNotCover, EligibilityMismatch, InvalidInput
from agencies.models import Service
from audit.models import AuditAction, AuditEvent
from consent.models import ConsentRecord
from consent.vocabulary import Purpose
from relay import services
from relay.models import Handoff, HandoffNote, NoteKind
from relay.states import Status

pytestmark = pytest.mark.django_db


def _program(agency, **fields) -> Service:
    values = {"slug": "heartful-space", "name": "ハートフルスペース", **fields}
    return Service.objects.create(agency=agency, **values)


def _relay(net, sheet, **kwargs) -> Handoff:
    return services.handoff_relay(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=kwargs.pop("to", net.npo),
        sections=["basic", "consultation"],
        purpose=Purpose.SUPPORT,
        **kwargs,
    )


def _consent(net, sheet, *, grantors=("guardian", "person"), to=None, **kwargs) -> ConsentRecord:
    return services.consent_record(
        staff=net.counselor,
        sheet_id=sheet.pk,
        grantors=list(grantors),
        method="written",
        recipients=[to or net.npo],
        sections=["basic", "consultation", "attendance"],
        purposes=[Purpose.SUPPORT],
        valid_until=timezone.now() + timedelta(days=90),
        **kwargs,
    )


def test_a_hop_targets_a_program_of_the_receiver(net) -> None:
    program = _program(net.npo)
    sheet = net.sheet()
    _consent(net, sheet)
    hop = _relay(net, sheet, service=program)
    assert hop.status == Status.SENT and hop.service == program
    created = AuditEvent.objects.get(action=AuditAction.HANDOFF_CREATED, object_id=hop.pk)
    assert created.detail["service_id"] == program.pk
    assert "eligibility_overridden" not in created.detail


def test_another_agencys_program_is_refused_and_nothing_is_created(net) -> None:
    """GIVEN a program of the welfare office WHEN the ward sends to the NPO naming it THEN the
    send is refused on the field `service`, and no hop, note or audit event of a hop exists."""
    elsewhere = _program(net.welfare, slug="other")
    sheet = net.sheet()
    _consent(net, sheet)
    with pytest.raises(InvalidInput) as caught:
        _relay(net, sheet, service=elsewhere)
    assert caught.value.field == "service"
    assert not Handoff.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.HANDOFF_CREATED).exists()


def test_an_inactive_program_is_no_target(net) -> None:
    program = _program(net.npo, active=False)
    sheet = net.sheet()
    _consent(net, sheet)
    with pytest.raises(InvalidInput):
        _relay(net, sheet, service=program)
    assert not Handoff.objects.exists()


def test_the_33_year_old_sent_to_an_agency_serving_0_to_18_is_warned(net) -> None:
    """GIVEN a person born 33 years ago and an agency serving ages 0-18 WHEN the counselor
    sends without a reason THEN EligibilityMismatch names the field `age`, nothing is created."""
    net.npo.age_min, net.npo.age_max = 0, 18
    net.npo.save()
    sheet = net.sheet(birth_year=timezone.localdate().year - 33, grade="not_in_school")
    _consent(net, sheet)
    with pytest.raises(EligibilityMismatch) as caught:
        _relay(net, sheet)
    mismatches = caught.value.context["mismatches"]
    assert [(m["field"], m["code"]) for m in mismatches] == [("age", "age-out-of-range")]
    assert not Handoff.objects.exists()


def test_a_mismatch_with_a_reason_is_sent_and_the_override_audited(net) -> None:
    """GIVEN a program for 横浜市's pupils who wish it WHEN an Adachi high-school pupil is sent
    with a reason THEN the hop is sent, the reason is a note of kind eligibility, and the
    handoff.created event names the rules overridden and the note (not its text)."""
    program = _program(
        net.npo,
        grades=["e1", "e2", "e3", "e4", "e5", "e6", "j1", "j2", "j3"],
        municipalities=["横浜市"],
    )
    sheet = net.sheet(grade="h1", municipality="足立区")
    _consent(net, sheet)
    reason = "転居予定のため、事前に相談したい"
    hop = _relay(net, sheet, service=program, eligibility_override_reason=reason)
    assert hop.status == Status.SENT
    assert hop.eligibility_overridden == [
        {"field": "grade", "code": "grade-not-served"},
        {"field": "municipality", "code": "municipality-not-served"},
    ]
    note = HandoffNote.objects.get(handoff=hop, kind=NoteKind.ELIGIBILITY)
    assert note.text == reason
    created = AuditEvent.objects.get(action=AuditAction.HANDOFF_CREATED, object_id=hop.pk)
    assert created.detail["eligibility_overridden"] == hop.eligibility_overridden
    assert created.detail["eligibility_note_id"] == note.pk
    assert reason not in str(created.detail)


def test_a_program_needing_the_childs_wish_reads_the_consents_assent(net) -> None:
    program = _program(net.npo, requires_child_wish=True)
    sheet = net.sheet()
    _consent(net, sheet, grantors=["guardian"], child_assent="not_asked")
    with pytest.raises(EligibilityMismatch) as caught:
        _relay(net, sheet, service=program)
    assert [m["field"] for m in caught.value.context["mismatches"]] == ["child_wish"]
    _consent(net, sheet, grantors=["guardian"], child_assent="assented")
    assert _relay(net, sheet, service=program).status == Status.SENT


def test_a_receiver_without_the_basic_section_learns_no_age_from_a_warning(net) -> None:
    """The facts come only from what the asking agency can read: a receiver given only the
    consultation section relaying onward to an agency for 0-18 gets no age warning."""
    net.welfare.age_min, net.welfare.age_max = 0, 18
    net.welfare.save()
    sheet = net.sheet(birth_year=timezone.localdate().year - 33)
    services.consent_record(
        staff=net.counselor,
        sheet_id=sheet.pk,
        grantors=["person"],
        method="written",
        recipients=[net.npo, net.welfare],
        sections=["consultation"],
        purposes=[Purpose.SUPPORT],
        valid_until=timezone.now() + timedelta(days=90),
    )
    services.handoff_relay(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.npo,
        sections=["consultation"],
        purpose=Purpose.SUPPORT,
    )
    onward = services.handoff_relay(
        staff=net.npo_supervisor,
        sheet_id=sheet.pk,
        to_agency=net.welfare,
        sections=["consultation"],
        purpose=Purpose.SUPPORT,
    )
    assert onward.eligibility_overridden == []


# --- the adult rule -------------------------------------------------------------------------


def test_recording_a_guardian_only_consent_for_an_adult_is_refused(net) -> None:
    sheet = net.sheet(birth_year=timezone.localdate().year - 33, grade="not_in_school")
    with pytest.raises(InvalidInput) as caught:
        _consent(net, sheet, grantors=["guardian"])
    assert caught.value.field == "grantors"
    assert "18歳以上" in str(caught.value)
    assert not ConsentRecord.objects.exists()
    # The person's own consent (with the guardian's, or alone) is recorded.
    assert _consent(net, sheet, grantors=["guardian", "person"]).pk


def test_a_guardian_only_consent_does_not_cover_a_person_who_is_now_an_adult(net) -> None:
    """GIVEN a guardian's consent recorded while the sheet gave no age WHEN the sheet is
    corrected to a 33-year-old and a send is tried THEN the policy refuses it
    (adult-needs-own-consent), the refusal is audited and nothing is sent."""
    sheet = net.sheet(grade="")
    _consent(net, sheet, grantors=["guardian"])
    services.sheet_update(
        staff=net.counselor,
        sheet_id=sheet.pk,
        data={"birth_year": timezone.localdate().year - 33},
        reason="生まれ年を確認",
    )
    with pytest.raises(ConsentDoesNotCover) as caught:
        _relay(net, sheet)
    assert caught.value.context["reason"] == "adult-needs-own-consent"
    assert not Handoff.objects.exists()
    refused = AuditEvent.objects.get(action=AuditAction.HANDOFF_SEND_REFUSED)
    assert refused.detail["reason"] == "adult-needs-own-consent"
    # The person's own consent, recorded there, covers the send.
    _consent(net, sheet, grantors=["person"])
    assert _relay(net, sheet).status == Status.SENT
