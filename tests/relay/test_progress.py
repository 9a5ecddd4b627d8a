"""Progress after acceptance: the receiver posts, the sender reads it only under consent
("progress" to the sender, for the hop's purpose), and nothing of it leaves in the audit
trail or a notification but ids."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from agencies.errors import IllegalTransition, InvalidInput, NotAllowed, NotFound
from agencies.models import AgencyKind
from audit.models import AuditAction, AuditEvent
from consent.vocabulary import Purpose, Section
from notifications.models import InAppNotification, OutboxMessage
from relay import services
from relay.models import ProgressUpdate
from tests.fixtures import Network

pytestmark = pytest.mark.django_db

WORDS = "9月から週2回通所。表情が明るくなってきた。"


def accepted(net: Network, *, progress_consent: bool) -> object:
    """A hop ward -> NPO, accepted; with `progress_consent`, the guardian also agreed that
    the NPO reports progress back to the ward desk."""
    sheet = net.sheet()
    net.consent(sheet)
    if progress_consent:
        net.consent(sheet, to=[net.ward], sections=[Section.PROGRESS])
    hop = net.send(sheet)
    services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    return hop


def post(net: Network, hop, **kwargs):
    return services.handoff_progress_post(
        staff=net.npo_intake, handoff_id=hop.pk, **{"status": "started", "text": WORDS, **kwargs}
    )


def test_the_receiver_posts_and_the_sender_reads_it_under_consent(net) -> None:
    """GIVEN an accepted hop and consent to report progress to the ward desk WHEN the NPO
    posts "通所開始" THEN the ward reads status and text, the post and the read are audited
    by ids, and the ward is told (ids only)."""
    hop = accepted(net, progress_consent=True)
    update = post(net, hop)

    assert update.shared_with_sender and update.consent is not None
    seen = services.handoff_progress_list(staff=net.counselor, handoff_id=hop.pk)
    (entry,) = seen.entries
    assert entry.readable and entry.update.text == WORDS and entry.update.status == "started"

    posted = AuditEvent.objects.get(action=AuditAction.HANDOFF_PROGRESS_POSTED)
    assert posted.detail["progress_id"] == update.pk
    assert posted.detail["shared_with_sender"] is True
    viewed = AuditEvent.objects.get(action=AuditAction.HANDOFF_PROGRESS_VIEWED)
    assert viewed.detail["progress_ids"] == [update.pk] and viewed.actor_agency_id == net.ward.pk
    for event in AuditEvent.objects.all():
        assert WORDS not in str(event.detail)
    notice = OutboxMessage.objects.get(event_type="handoff.progress_posted")
    assert notice.agency_id == net.ward.pk
    assert notice.payload["data"]["progress_id"] == update.pk
    assert WORDS not in str(notice.payload) and "started" not in str(notice.payload)
    assert InAppNotification.objects.filter(
        agency=net.ward, event_type="handoff.progress_posted"
    ).exists()


def test_without_consent_the_sender_sees_only_that_an_update_exists(net) -> None:
    """GIVEN consent that does not cover "progress" to the ward WHEN the NPO posts THEN it
    is kept at the NPO (which reads it), and the ward sees an entry without status or text;
    a consent recorded later does not reveal it, the next update goes through."""
    hop = accepted(net, progress_consent=False)
    update = post(net, hop)
    assert not update.shared_with_sender and update.refusal_reason == "recipient-not-covered"

    (mine,) = services.handoff_progress_list(staff=net.npo_intake, handoff_id=hop.pk).entries
    assert mine.readable and mine.update.text == WORDS
    (theirs,) = services.handoff_progress_list(staff=net.counselor, handoff_id=hop.pk).entries
    assert not theirs.readable and theirs.withheld
    assert not AuditEvent.objects.filter(
        action=AuditAction.HANDOFF_PROGRESS_VIEWED, actor_agency_id=net.ward.pk
    ).exists()

    net.consent(hop.sheet, to=[net.ward], sections=[Section.PROGRESS])
    later = post(net, hop, status="continuing", text="継続中")
    entries = services.handoff_progress_list(staff=net.counselor, handoff_id=hop.pk).entries
    assert [(e.update.pk, e.readable) for e in entries] == [(update.pk, False), (later.pk, True)]


def test_withdrawing_the_consent_hides_what_was_given(net) -> None:
    """GIVEN an update the ward was given WHEN the guardian withdraws that consent THEN the
    ward no longer reads it (it sees that an update exists)."""
    sheet = net.sheet()
    net.consent(sheet)
    progress = net.consent(sheet, to=[net.ward], sections=[Section.PROGRESS])
    hop = net.send(sheet)
    services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    post(net, hop)
    services.consent_withdraw(staff=net.counselor, record_id=progress.pk, via="保護者")

    (entry,) = services.handoff_progress_list(staff=net.counselor, handoff_id=hop.pk).entries
    assert not entry.readable


def test_consent_for_another_purpose_does_not_cover_progress(net) -> None:
    sheet = net.sheet()
    net.consent(sheet)
    net.consent(
        sheet, to=[net.ward], sections=[Section.PROGRESS], purposes=[Purpose.CASE_CONFERENCE]
    )
    hop = net.send(sheet)
    services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    assert post(net, hop).refusal_reason == "purpose-not-covered"


def test_only_an_accepted_hop_takes_updates_and_only_from_its_receiver(net, sent) -> None:
    """Sent but not accepted: IllegalTransition with the state, nothing written. The sender
    and another agency cannot post; a viewer cannot either."""
    with pytest.raises(IllegalTransition) as wrong_state:
        post(net, sent)
    assert wrong_state.value.context["current"] == "sent"
    services.handoff_accept(staff=net.npo_intake, handoff_id=sent.pk)
    with pytest.raises(NotAllowed):
        services.handoff_progress_post(staff=net.counselor, handoff_id=sent.pk, status="started")
    with pytest.raises(NotFound):
        services.handoff_progress_post(
            staff=net.welfare_intake, handoff_id=sent.pk, status="started"
        )
    with pytest.raises(NotAllowed):
        services.handoff_progress_post(staff=net.viewer, handoff_id=sent.pk, status="started")
    with pytest.raises(NotFound):
        services.handoff_progress_list(staff=net.welfare_intake, handoff_id=sent.pk)
    services.handoff_complete(staff=net.npo_intake, handoff_id=sent.pk, outcome="support_started")
    with pytest.raises(IllegalTransition):
        post(net, sent)
    assert ProgressUpdate.objects.count() == 0


def test_attendance_days_are_for_education_support_centers(net) -> None:
    """An NPO cannot record attendance days; an education support center can, for a month
    that has come, up to that month's days."""
    hop = accepted(net, progress_consent=True)
    with pytest.raises(InvalidInput) as not_a_center:
        post(net, hop, attendance_month=date(2026, 11, 1), attendance_days=3)
    assert not_a_center.value.field == "attendance_month"

    net.npo.kind = AgencyKind.EDUCATION_SUPPORT
    net.npo.save(update_fields=["kind"])
    with pytest.raises(InvalidInput) as too_many:
        post(net, hop, attendance_month=date(2026, 2, 1), attendance_days=29)
    assert too_many.value.field == "attendance_days"
    with pytest.raises(InvalidInput) as future:
        post(net, hop, attendance_month=date(2999, 1, 1), attendance_days=1)
    assert future.value.field == "attendance_month"
    with pytest.raises(InvalidInput) as half:
        post(net, hop, attendance_days=4)
    assert half.value.field == "attendance_month"
    with pytest.raises(InvalidInput) as status:
        post(net, hop, status="great")
    assert status.value.field == "status"
    assert ProgressUpdate.objects.count() == 0

    update = post(net, hop, attendance_month=date(2026, 2, 14), attendance_days=28)
    assert (update.attendance_month, update.attendance_days) == (date(2026, 2, 1), 28)


def test_updates_are_never_edited_and_their_text_is_encrypted(net) -> None:
    hop = accepted(net, progress_consent=True)
    update = post(net, hop)
    with pytest.raises(PermissionError):
        update.save()
    with pytest.raises(PermissionError):
        ProgressUpdate.objects.filter(pk=update.pk).update(text="x")
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM relay_progressupdate WHERE id = %s", [update.pk])
        (stored,) = cursor.fetchone()
    assert WORDS not in stored and stored
