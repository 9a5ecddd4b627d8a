"""What a receiver sees is exactly what was consented and sent (issue 10), from the outside:
the receiver's own reads (services.sheet_view, services.handoff_view, attachments, the hop
page), never the tables. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agencies.errors import ConsentDoesNotCover, DuplicateHandoff, InvalidInput, NotFound
from audit.models import AuditAction, AuditEvent
from audit.services import audit_verify
from notifications.models import OutboxMessage
from relay import services
from relay.models import Handoff, HandoffNote, Provision
from relay.reports import audit_event_branches, audit_events_visible_to
from relay.sections import content_hash
from relay.services.consents import consents_expire_due
from relay.states import Status

pytestmark = pytest.mark.django_db

BEFORE = "2学期から登校しぶり。朝起きられない日が続いている。"
AFTER = "(送付後に追記)保護者と面談。"


def _edit(net, sheet, **data) -> None:
    services.sheet_update(
        staff=net.counselor,
        sheet_id=sheet.pk,
        data=data or {"consultation": AFTER},
        reason="面談の結果",
    )


def _receiver_reads(net, hop) -> tuple[dict, dict]:
    """What the NPO reads of the sheet and of the hop."""
    sheet = services.sheet_view(staff=net.npo_intake, sheet_id=hop.sheet_id)
    handoff = services.handoff_view(staff=net.npo_intake, handoff_id=hop.pk)
    return sheet.content, handoff.content


def _page(net, hop, **query) -> str:
    client = Client()
    client.force_login(net.npo_intake.user)
    url = reverse("relay:handoff-detail", args=[hop.pk])
    return client.get(url, query).content.decode()


def test_an_owner_edit_never_reaches_the_receiver_by_itself(net, sent) -> None:
    """GIVEN a sent hop WHEN the owner edits a shared section THEN the receiver still reads,
    on every path, what was sent; the owner reads its edit."""
    _edit(net, sent.sheet)
    sheet, hop = _receiver_reads(net, sent)
    assert sheet["consultation"]["consultation"] == BEFORE
    assert hop["consultation"]["consultation"] == BEFORE
    assert AFTER not in _page(net, sent) and BEFORE in _page(net, sent)
    owner = services.sheet_view(staff=net.counselor, sheet_id=sent.sheet_id)
    assert owner.content["consultation"]["consultation"] == AFTER


def test_the_send_event_carries_the_hash_of_exactly_what_was_sent(net, sent) -> None:
    provision = Provision.objects.get(handoff=sent)
    assert provision.version == 1 and provision.sections == ["basic", "consultation"]
    assert set(provision.content) == {"basic", "consultation"}  # exactly the shared sections
    assert provision.content_hash == content_hash(provision.content)
    event = AuditEvent.objects.get(action=AuditAction.HANDOFF_SENT, object_id=str(sent.pk))
    assert event.detail["content_hash"] == provision.content_hash
    assert event.detail["provision_version"] == 1


def test_a_provision_is_never_changed(net, sent) -> None:
    provision = Provision.objects.get(handoff=sent)
    provision.content = {}
    with pytest.raises(PermissionError):
        provision.save()
    with pytest.raises(PermissionError):
        Provision.objects.filter(pk=provision.pk).update(content={})
    with pytest.raises(PermissionError):
        Provision.objects.filter(pk=provision.pk).delete()


def test_after_expiry_what_was_sent_stays_readable_and_nothing_new_goes_out(net) -> None:
    """GIVEN a hop sent under a consent that then expires WHEN the owner edits and tries to
    send an update THEN the update is refused with the reason (expired), the receiver keeps
    reading version 1 (not the edit), and the hop page says why next to the basis."""
    sheet = net.sheet()
    net.consent(sheet, days=1)
    hop = net.send(sheet)
    assert consents_expire_due(now=timezone.now() + timedelta(days=2)) == 1
    _edit(net, sheet)

    with pytest.raises(ConsentDoesNotCover) as refused:
        _after_two_days(
            lambda: services.handoff_send_update(staff=net.counselor, handoff_id=hop.pk)
        )
    assert refused.value.context["reason"] in {"expired", "not-in-force"}
    sheet_content, hop_content = _receiver_reads(net, hop)
    assert sheet_content["consultation"]["consultation"] == BEFORE
    assert hop_content["consultation"]["consultation"] == BEFORE
    assert Provision.objects.filter(handoff=hop).count() == 1
    page = _page(net, hop)
    assert 'data-testid="consent-expired"' in page
    assert "期限内に送付された内容は引き続き閲覧できます" in page


def _after_two_days(call):
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        return call()


def test_a_later_refusal_takes_those_sections_away_and_leaves_the_rest(net) -> None:
    """GIVEN basic, consultation and attendance sent WHEN the guardian then refuses the
    consultation section to the NPO THEN the NPO no longer reads it in any version, still
    reads the others unchanged, and the revoke is audited with the refused section only."""
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet, sections=["basic", "consultation", "attendance"])
    before_sheet, before_hop = _receiver_reads(net, hop)

    refusal = net.consent(sheet, sections=["consultation"], decision="deny")

    after_sheet, after_hop = _receiver_reads(net, hop)
    assert set(after_sheet) == set(after_hop) == {"basic", "attendance"}
    for section in ("basic", "attendance"):
        assert after_sheet[section] == before_sheet[section]
        assert after_hop[section] == before_hop[section]
    v1 = services.handoff_view(staff=net.npo_intake, handoff_id=hop.pk, version=1)
    assert "consultation" not in v1.content
    revoke = AuditEvent.objects.get(action=AuditAction.ACCESS_REVOKED)
    assert revoke.sections == ["consultation"] and revoke.recipient_agency_id == net.npo.pk
    assert revoke.detail == {"handoff_id": hop.pk, "reason": "refused", "consent_id": refusal.pk}
    assert Handoff.objects.get(pk=hop.pk).status == Status.SENT
    assert audit_verify()[1] is None


def test_withdrawal_leaves_the_receiver_nothing(net, sent) -> None:
    record = sent.consent
    services.consent_withdraw(staff=net.counselor, record_id=record.pk, via="保護者")
    with pytest.raises(NotFound):
        services.sheet_view(staff=net.npo_intake, sheet_id=sent.sheet_id)
    view = services.handoff_view(staff=net.npo_intake, handoff_id=sent.pk)
    assert view.content == {}
    assert services.handoff_view(staff=net.npo_intake, handoff_id=sent.pk, version=1).content == {}


def test_an_update_through_the_gate_is_a_new_version_with_history(net, sent) -> None:
    """GIVEN an edit WHEN the sender sends an update THEN the receiver reads version 2, the
    history lists both versions with what changed, version 1 is still readable, the update
    is audited with its hash and the receiver is notified."""
    _edit(net, sent.sheet)
    services.handoff_send_update(staff=net.counselor, handoff_id=sent.pk, note="面談結果を追記")

    _sheet, hop = _receiver_reads(net, sent)
    assert hop["consultation"]["consultation"] == AFTER
    view = services.handoff_view(staff=net.npo_intake, handoff_id=sent.pk)
    assert [p.version for p in view.versions] == [1, 2]
    assert view.versions[1].changed_sections == ["consultation"]
    old = services.handoff_view(staff=net.npo_intake, handoff_id=sent.pk, version=1)
    assert old.content["consultation"]["consultation"] == BEFORE
    event = AuditEvent.objects.get(action=AuditAction.HANDOFF_UPDATED)
    assert event.detail["content_hash"] == view.versions[1].content_hash
    assert event.detail["changed_sections"] == ["consultation"]
    assert OutboxMessage.objects.filter(agency=net.npo, event_type="handoff.updated").exists()
    assert [n.text for n in view.notes] == ["面談結果を追記"]
    page = _page(net, sent)
    assert 'data-testid="versions"' in page and AFTER in page
    assert BEFORE in _page(net, sent, version=1)


def test_an_update_without_a_change_is_refused(net, sent) -> None:
    with pytest.raises(InvalidInput):
        services.handoff_send_update(staff=net.counselor, handoff_id=sent.pk)
    assert Provision.objects.filter(handoff=sent).count() == 1


def test_an_update_refused_by_the_gate_leaves_the_old_version(net) -> None:
    """GIVEN a hop sent under the general consent and, later, a refusal of the basic section
    to every child guidance centre WHEN the owner edits and sends an update THEN the gate
    refuses (reason refused), the refusal is audited, and the receiver keeps version 1."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.guidance])
    hop = net.send(sheet, to=net.guidance, sections=["consultation"])
    net.consent(
        sheet,
        to=[net.guidance],
        sections=["consultation"],
        decision="deny",
        valid_from=timezone.now() + timedelta(minutes=1),
    )  # not yet in force
    _edit(net, sheet)
    later = time_machine.travel(timezone.now() + timedelta(minutes=2))
    with pytest.raises(ConsentDoesNotCover) as refused, later:
        services.handoff_send_update(staff=net.counselor, handoff_id=hop.pk)
    assert refused.value.context["reason"] == "refused"
    assert Provision.objects.filter(handoff=hop).count() == 1
    assert AuditEvent.objects.filter(
        action=AuditAction.HANDOFF_SEND_REFUSED, detail__update=True
    ).exists()


def test_an_update_waits_for_the_supervisor_where_the_agency_asks(net, sent) -> None:
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    _edit(net, sent.sheet)
    hop = services.handoff_send_update(staff=net.counselor, handoff_id=sent.pk, note="確認を")
    assert hop.update_requested_at is not None
    assert Provision.objects.filter(handoff=sent).count() == 1  # nothing left yet
    services.handoff_send_update(staff=net.supervisor, handoff_id=sent.pk)
    hop.refresh_from_db()
    assert hop.update_requested_at is None
    assert Provision.objects.filter(handoff=sent).count() == 2
    actions = list(
        AuditEvent.objects.filter(
            action__in=[AuditAction.HANDOFF_UPDATE_SUBMITTED, AuditAction.HANDOFF_UPDATED]
        ).values_list("action", "detail__approved_request")
    )
    assert actions == [
        (AuditAction.HANDOFF_UPDATE_SUBMITTED, None),
        (AuditAction.HANDOFF_UPDATED, True),
    ]


def test_a_receiver_relays_onward_what_it_holds_never_the_live_sheet(net) -> None:
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    hop = net.send(sheet)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    _edit(net, sheet)
    onward = services.handoff_relay(
        staff=net.npo_supervisor,
        sheet_id=sheet.pk,
        to_agency=net.guidance,
        sections=["consultation"],
        purpose="support",
    )
    content = services.handoff_view(staff=net.guidance_intake, handoff_id=onward.pk).content
    assert content["consultation"]["consultation"] == BEFORE


def test_attachments_a_receiver_may_open_are_those_its_provision_names(
    net, tmp_path, settings
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    sheet = net.sheet()
    first = services.attachment_add(
        staff=net.counselor,
        sheet_id=sheet.pk,
        upload=SimpleUploadedFile("a.txt", b"first", content_type="text/plain"),
        title="経過記録",
    )
    net.consent(sheet, sections=["basic", "attachments"])
    hop = net.send(sheet, sections=["basic", "attachments"])
    later = services.attachment_add(
        staff=net.counselor,
        sheet_id=sheet.pk,
        upload=SimpleUploadedFile("b.txt", b"later", content_type="text/plain"),
        title="追加資料",
        reason="送付後に追加",
    )
    assert services.attachment_open(staff=net.npo_intake, attachment_id=first.pk) == first
    with pytest.raises(NotFound):
        services.attachment_open(staff=net.npo_intake, attachment_id=later.pk)
    view = services.sheet_view(staff=net.npo_intake, sheet_id=sheet.pk)
    assert [a.pk for a in view.attachments] == [first.pk]
    assert hop.pk


def test_a_second_open_hop_to_the_same_agency_is_refused_unless_deliberate(net, sent) -> None:
    with pytest.raises(DuplicateHandoff) as duplicate:
        net.send(sent.sheet)
    assert duplicate.value.context["handoff_id"] == sent.pk
    again = services.handoff_relay(
        staff=net.counselor,
        sheet_id=sent.sheet_id,
        to_agency=net.npo,
        sections=["basic"],
        purpose="support",
        deliberate=True,
    )
    assert again.status == Status.SENT and again.deliberate_duplicate
    created = AuditEvent.objects.get(action=AuditAction.HANDOFF_CREATED, object_id=str(again.pk))
    assert created.detail["deliberate"] is True and created.detail["open_handoff_id"] == sent.pk


def test_another_senders_open_hop_is_refused_without_its_id(net) -> None:
    """The NPO relaying to the guidance centre, which already has the ward's hop, learns it is
    a duplicate but not the id of a hop it takes no part in."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    hop = net.send(sheet)
    net.send(sheet, to=net.guidance)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    with pytest.raises(DuplicateHandoff) as duplicate:
        services.handoff_relay(
            staff=net.npo_supervisor,
            sheet_id=sheet.pk,
            to_agency=net.guidance,
            sections=["basic"],
            purpose="support",
        )
    assert "handoff_id" not in duplicate.value.context


def test_a_refused_relay_leaves_nothing_and_does_not_name_the_consent(net) -> None:
    """GIVEN the NPO holds a sheet whose guardian refused it to the guidance centre WHEN the
    NPO relays there THEN no hop exists, and the reason names neither the record nor agencies."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    refusal = net.consent(sheet, to=[net.guidance], sections=["basic"], decision="deny")
    hop = net.send(sheet)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    before = Handoff.objects.count()
    with pytest.raises(ConsentDoesNotCover) as refused:
        services.handoff_relay(
            staff=net.npo_supervisor,
            sheet_id=sheet.pk,
            to_agency=net.guidance,
            sections=["basic"],
            purpose="support",
        )
    assert Handoff.objects.count() == before
    message = str(refused.value)
    assert f"#{refusal.pk}" not in message and net.guidance.name not in message
    assert "handoff_id" not in refused.value.context


def test_notes_of_every_kind_survive_a_full_lifecycle(net) -> None:
    """GIVEN a hop returned once, then sent, acknowledged, accepted and completed, and another
    declined and another cancelled WHEN their notes are read THEN every note is there, in
    order, with author and agency, and the audit events name them by id."""
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance, net.welfare])
    hop = services.handoff_relay(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.npo,
        sections=["basic"],
        purpose="support",
        message="ご本人の希望で、居場所の利用について",
    )
    services.handoff_return_to_draft(staff=net.supervisor, handoff_id=hop.pk, note="項目を確認")
    services.handoff_submit(staff=net.supervisor, handoff_id=hop.pk)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk, note="受け取りました")
    services.handoff_accept(
        staff=net.npo_intake, handoff_id=hop.pk, note="12/8 に保護者と面談予定。"
    )
    services.handoff_complete(
        staff=net.npo_supervisor, handoff_id=hop.pk, outcome="support_started", note="週2回の通所"
    )
    declined = services.handoff_relay(
        staff=net.supervisor,
        sheet_id=sheet.pk,
        to_agency=net.guidance,
        sections=["basic"],
        purpose="support",
    )
    services.handoff_decline(
        staff=net.guidance_intake, handoff_id=declined.pk, reason="other", note="対象年齢外"
    )
    cancelled = services.handoff_relay(
        staff=net.supervisor,
        sheet_id=sheet.pk,
        to_agency=net.welfare,
        sections=["basic"],
        purpose="support",
    )
    services.handoff_cancel(
        staff=net.counselor, handoff_id=cancelled.pk, reason="other", note="別の機関で対応"
    )

    sender_view = services.handoff_view(staff=net.counselor, handoff_id=hop.pk)
    assert [(n.kind, n.text) for n in sender_view.notes] == [
        ("message", "ご本人の希望で、居場所の利用について"),
        ("return", "項目を確認"),
        ("acknowledge", "受け取りました"),
        ("accept", "12/8 に保護者と面談予定。"),
        ("complete", "週2回の通所"),
    ]
    receiver_view = services.handoff_view(staff=net.npo_intake, handoff_id=hop.pk)
    assert "return" not in [n.kind for n in receiver_view.notes]  # the sender's internal note
    assert HandoffNote.objects.get(handoff=declined).text == "対象年齢外"
    assert HandoffNote.objects.get(handoff=cancelled).text == "別の機関で対応"
    by_action = {
        AuditAction.HANDOFF_ACKNOWLEDGED: "受け取りました",
        AuditAction.HANDOFF_ACCEPTED: "12/8 に保護者と面談予定。",
        AuditAction.HANDOFF_COMPLETED: "週2回の通所",
        AuditAction.HANDOFF_DECLINED: "対象年齢外",
        AuditAction.HANDOFF_CANCELLED: "別の機関で対応",
        AuditAction.HANDOFF_RETURNED: "項目を確認",
    }
    for action, text in by_action.items():
        event = AuditEvent.objects.get(action=action)
        assert HandoffNote.objects.get(pk=event.detail["note_id"]).text == text
        assert text not in str(event.detail)  # the trail names the note, not its text
    page = _page(net, hop)
    assert page.index("受け取りました") < page.index("12/8 に保護者と面談予定。")
    assert "項目を確認" not in page


def test_the_receivers_audit_log_shows_only_what_concerns_it_after_the_send(net) -> None:
    """GIVEN the ward is refused a send, gets a hop returned and sends another to the NPO
    WHEN the NPO's supervisor reads the audit log THEN it sees the send and its own answers,
    never the ward's drafts, submissions, approvals, returns, refusals or reads."""
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    sheet = net.sheet()
    net.consent(sheet)
    with pytest.raises(ConsentDoesNotCover):
        net.send(sheet, to=net.guidance)  # refused: never the guidance centre's business
    hop = net.send(sheet)
    services.handoff_return_to_draft(staff=net.supervisor, handoff_id=hop.pk, note="確認")
    services.handoff_submit(staff=net.counselor, handoff_id=hop.pk)
    services.handoff_approve(staff=net.supervisor, handoff_id=hop.pk)
    services.sheet_view(staff=net.counselor, sheet_id=sheet.pk)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)

    npo = set(audit_events_visible_to(agency=net.npo).values_list("action", flat=True))
    assert {AuditAction.HANDOFF_SENT, AuditAction.HANDOFF_ACKNOWLEDGED} <= npo
    assert AuditAction.ACCESS_GRANTED in npo and AuditAction.NOTIFICATION_QUEUED in npo
    for internal in (
        AuditAction.HANDOFF_CREATED,
        AuditAction.HANDOFF_SUBMITTED,
        AuditAction.HANDOFF_APPROVED,
        AuditAction.HANDOFF_RETURNED,
        AuditAction.HANDOFF_SEND_REFUSED,
        AuditAction.SHEET_VIEWED,
        AuditAction.SHEET_CREATED,
        AuditAction.CONSENT_RECORDED,
    ):
        assert internal not in npo, internal
    guidance = audit_events_visible_to(agency=net.guidance)
    assert not guidance.exists()
    ward = set(audit_events_visible_to(agency=net.ward).values_list("action", flat=True))
    assert {AuditAction.HANDOFF_SEND_REFUSED, AuditAction.HANDOFF_ACKNOWLEDGED} <= ward


def test_the_audit_pages_branches_are_exactly_the_visible_events(net) -> None:
    """The supervisor page reads "what my agency may see" as index-friendly branches merged
    by id; whatever happened, they must hold the same events as the rule itself, for every
    agency (a branch too many leaks another agency's internal steps; one too few hides)."""
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    sheet = net.sheet()
    net.consent(sheet)
    with pytest.raises(ConsentDoesNotCover):
        net.send(sheet, to=net.guidance)
    hop = net.send(sheet)
    services.handoff_return_to_draft(staff=net.supervisor, handoff_id=hop.pk, note="確認")
    services.handoff_submit(staff=net.counselor, handoff_id=hop.pk)
    services.handoff_approve(staff=net.supervisor, handoff_id=hop.pk)
    services.sheet_view(staff=net.counselor, sheet_id=sheet.pk)
    services.handoff_view(staff=net.npo_intake, handoff_id=hop.pk)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    other = net.sheet()
    net.consent(other)
    sent_in_error = net.send(other, staff=net.supervisor)
    services.handoff_cancel(
        staff=net.counselor, handoff_id=sent_in_error.pk, reason="sent_in_error", note="誤送付"
    )
    consents_expire_due(now=timezone.now() + timedelta(days=400))
    for agency in (net.ward, net.npo, net.guidance):
        rule = set(audit_events_visible_to(agency=agency).values_list("id", flat=True))
        parts = [set(p.values_list("id", flat=True)) for p in audit_event_branches(agency=agency)]
        assert set().union(*parts) == rule, agency
    assert len(set(audit_events_visible_to(agency=net.npo).values_list("id", flat=True))) > 3


def test_the_owner_reads_next_to_an_expired_consent_what_expiry_means(net, sent) -> None:
    consents_expire_due(now=timezone.now() + timedelta(days=400))
    client = Client()
    client.force_login(net.counselor.user)
    page = client.get(reverse("relay:sheet-detail", args=[sent.sheet_id])).content.decode()
    assert 'data-testid="expired-note"' in page
    assert "期限内に送付された内容は、送付先で引き続き閲覧できます" in page


def test_a_provision_carries_the_searchable_basics_it_was_sent_with(net) -> None:
    """GIVEN hops sharing basic and not WHEN they are sent THEN each provision holds the
    initials and school (folded), the school and the grade of its own basic section, blank
    without it; the migration fills provisions written before these columns the same way."""
    import importlib

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    sheet = net.sheet(school_name="明石市立テスト中学校", grade="j2")
    net.consent(sheet, to=[net.npo, net.guidance])
    with_basic = Provision.objects.get(handoff=net.send(sheet, to=net.npo))
    without = Provision.objects.get(
        handoff=net.send(sheet, to=net.guidance, sections=["consultation"])
    )
    assert (with_basic.search_key, with_basic.school_name, with_basic.grade) == (
        "at|明石市立てすと中学校",
        "明石市立テスト中学校",
        "j2",
    )
    assert (without.search_key, without.school_name, without.grade) == ("", "", "")

    with connection.cursor() as cursor:  # as a row written before the columns existed
        cursor.execute(
            "UPDATE relay_provision SET search_key = '', school_name = '', grade = ''"
            " WHERE id = %s",
            [with_basic.pk],
        )
    name = "0008_provision_basic_columns"
    state = MigrationLoader(connection).project_state(("relay", name))
    migration = importlib.import_module(f"relay.migrations.{name}")
    migration.fill_basic_columns(state.apps, None)
    with_basic.refresh_from_db()
    assert with_basic.grade == "j2" and with_basic.search_key == "at|明石市立てすと中学校"
