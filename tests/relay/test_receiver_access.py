"""Who sees what: a receiver sees only its hop's sections, only after send, only while open."""

from __future__ import annotations

import pytest

from agencies.errors import IllegalTransition, InvalidInput, NotAllowed, NotFound
from relay import services
from relay.models import SheetAccess
from relay.states import DeclineReason, Outcome, Status

pytestmark = pytest.mark.django_db


def test_receiver_reads_exactly_the_shared_sections(net) -> None:
    sheet = net.sheet()
    net.consent(sheet, sections=["basic", "consultation", "health"])
    net.send(sheet, sections=["basic", "consultation"])

    view = services.sheet_view(staff=net.npo_intake, sheet_id=sheet.pk)

    assert view.sections == ["basic", "consultation"]
    assert set(view.content) == {"basic", "consultation"}
    assert "mental_condition" not in str(view.content)  # the health section stays home
    assert view.attachments == []
    owner_view = services.sheet_view(staff=net.counselor, sheet_id=sheet.pk)
    assert owner_view.content["health"]["mental_condition"] == "不眠の訴えあり"


def test_other_agencies_cannot_see_a_sheet_or_its_hops(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    for outsider in (net.welfare_intake, net.guidance_intake):
        with pytest.raises(NotFound):
            services.sheet_view(staff=outsider, sheet_id=sheet.pk)
        with pytest.raises(NotFound):
            services.handoff_view(staff=outsider, handoff_id=hop.pk)
        with pytest.raises(NotFound):
            services.handoff_acknowledge(staff=outsider, handoff_id=hop.pk)


def test_a_receiver_cannot_read_sheets_of_other_hops(net) -> None:
    """The NPO received sheet 1; sheet 2 went to child guidance only."""
    first, second = net.sheet(), net.sheet(subject_initials="K.M")
    net.consent(first)
    net.consent(second, to=[net.guidance])
    net.send(first)
    net.send(second, to=net.guidance)
    with pytest.raises(NotFound):
        services.sheet_view(staff=net.npo_intake, sheet_id=second.pk)
    assert services.sheet_view(staff=net.guidance_intake, sheet_id=second.pk).sheet.pk == second.pk


def test_declining_removes_access_and_tells_the_sender(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    with pytest.raises(InvalidInput) as missing_note:
        services.handoff_decline(
            staff=net.npo_intake, handoff_id=hop.pk, reason=DeclineReason.OTHER
        )
    assert missing_note.value.field == "note"

    services.handoff_decline(
        staff=net.npo_intake, handoff_id=hop.pk, reason=DeclineReason.NO_CAPACITY, note="今月は定員"
    )

    with pytest.raises(NotFound):
        services.sheet_view(staff=net.npo_intake, sheet_id=sheet.pk)
    view = services.handoff_view(staff=net.npo_intake, handoff_id=hop.pk)
    assert view.handoff.status == Status.DECLINED and view.content == {}
    from notifications.models import OutboxMessage

    assert OutboxMessage.objects.filter(agency=net.ward, event_type="handoff.declined").exists()


def test_cancelling_a_sent_hop_removes_the_receivers_access(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    with pytest.raises(NotAllowed):  # the receiver cannot cancel the sender's hop
        services.handoff_cancel(staff=net.npo_intake, handoff_id=hop.pk, reason="sent_in_error")
    services.handoff_cancel(staff=net.counselor, handoff_id=hop.pk, reason="sent_in_error")
    assert not SheetAccess.objects.filter(agency=net.npo).exists()
    with pytest.raises(NotFound):
        services.sheet_view(staff=net.npo_intake, sheet_id=sheet.pk)


def test_closed_loop_the_sender_sees_the_outcome(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    services.handoff_complete(
        staff=net.npo_supervisor,
        handoff_id=hop.pk,
        outcome=Outcome.SUPPORT_STARTED,
        note="週2回の通所を開始",
    )
    seen = services.handoff_view(staff=net.counselor, handoff_id=hop.pk).handoff
    assert seen.status == Status.COMPLETED and seen.outcome == Outcome.SUPPORT_STARTED
    # Completed is final.
    with pytest.raises(IllegalTransition):
        services.handoff_cancel(staff=net.counselor, handoff_id=hop.pk, reason="other")


def test_illegal_transitions_are_refused_and_change_nothing(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    with pytest.raises(IllegalTransition):
        services.handoff_complete(staff=net.npo_intake, handoff_id=hop.pk, outcome="unreachable")
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    with pytest.raises(IllegalTransition):
        services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    hop.refresh_from_db()
    assert hop.status == Status.ACKNOWLEDGED and hop.version == 3  # created, sent, acknowledged


def test_a_viewer_reads_but_cannot_send(net) -> None:
    sheet = net.sheet()
    assert services.sheet_view(staff=net.viewer, sheet_id=sheet.pk).is_owner
    with pytest.raises(NotAllowed):
        services.handoff_create(
            staff=net.viewer,
            sheet_id=sheet.pk,
            to_agency=net.npo,
            sections=["basic"],
            purpose="support",
        )


def test_relaying_onward_is_checked_the_same_way(net) -> None:
    """The NPO relays to child guidance: only sections it holds, only under consent."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance], sections=["basic", "consultation", "home"])
    first = net.send(sheet, sections=["basic", "consultation"])
    services.handoff_accept(staff=net.npo_intake, handoff_id=first.pk)

    with pytest.raises(InvalidInput) as not_held:  # home was never shared with the NPO
        services.handoff_create(
            staff=net.npo_supervisor,
            sheet_id=sheet.pk,
            to_agency=net.guidance,
            sections=["home"],
            purpose="support",
        )
    assert not_held.value.field == "sections"
    from agencies.errors import ConsentDoesNotCover

    with pytest.raises(ConsentDoesNotCover):  # welfare is not in the consent
        net.send(sheet, to=net.welfare, sections=["basic"], staff=net.npo_supervisor)
    onward = net.send(sheet, to=net.guidance, sections=["basic"], staff=net.npo_supervisor)
    assert onward.status == Status.SENT and onward.parent_id == first.pk
    assert onward.from_agency_id == net.npo.pk
    assert services.sheet_view(staff=net.guidance_intake, sheet_id=sheet.pk).sections == ["basic"]


def test_sheet_edits_after_sending_are_versioned_with_a_reason(net) -> None:
    from agencies.errors import SheetLocked
    from relay.models import SheetVersion

    sheet = net.sheet()
    services.sheet_update(staff=net.counselor, sheet_id=sheet.pk, data={"grade": "j3"})
    assert not SheetVersion.objects.exists()  # before the first send: edited in place
    net.consent(sheet)
    net.send(sheet)
    with pytest.raises(SheetLocked):
        services.sheet_update(
            staff=net.counselor, sheet_id=sheet.pk, data={"absence_days_month": 12}
        )
    services.sheet_update(
        staff=net.counselor,
        sheet_id=sheet.pk,
        data={"absence_days_month": 12},
        reason="月末の集計で更新",
    )
    version = SheetVersion.objects.get()
    assert version.content["absence_days_month"] == 9 and version.changed_fields == [
        "absence_days_month"
    ]
    sheet.refresh_from_db()
    assert sheet.version == 2 and sheet.absence_days_month == 12


def test_initials_only_in_the_initials_field(net) -> None:
    with pytest.raises(InvalidInput) as bad:
        net.sheet(subject_initials="明石太郎")
    assert bad.value.field == "subject_initials"
