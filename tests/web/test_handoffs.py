"""The handoff page and its actions, tried as each role and as an outsider would."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from agencies.actors import Staff
from agencies.models import Role
from audit.models import AuditAction, AuditEvent
from relay import services
from relay.models import Handoff
from relay.states import Status
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _act(client: Client, hop: Handoff, name: str, **data: str):
    fields = {f"{name}-{k}": v for k, v in data.items()}
    return client.post(reverse("relay:handoff-action", args=[hop.pk, name]), fields)


def test_inbox_lists_the_new_handoff_with_its_deadline(net, login, sent) -> None:
    _sheet, hop = sent
    body = login(net.npo_intake).get(reverse("relay:inbox")).content.decode()
    assert f"引き継ぎ #{hop.pk}" in body
    assert net.ward.name in body and "送付済み" in body
    assert "A.T" not in body  # lists never show the person
    home = login(net.npo_intake).get(reverse("relay:home")).content.decode()
    assert f"引き継ぎ #{hop.pk}" in home


def test_receiver_sees_shared_sections_only_and_the_page_is_audited(net, login, sent) -> None:
    _sheet, hop = sent
    body = (
        login(net.npo_intake).get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    )
    assert "2学期から登校しぶり" in body and "A.T" in body
    assert "不眠の訴えあり" not in body and "母と二人暮らし" not in body
    assert 'data-section="attendance"' not in body  # consented, but not shared by this hop
    viewed = AuditEvent.objects.filter(action=AuditAction.HANDOFF_VIEWED).last()
    assert viewed.actor_agency_id == net.npo.pk
    assert viewed.detail["sections_read"] == ["basic", "consultation"]


def test_other_agencies_get_404_on_the_handoff_and_its_actions(net, login, sent) -> None:
    _sheet, hop = sent
    outsider = login(net.welfare_intake)
    assert outsider.get(reverse("relay:handoff-detail", args=[hop.pk])).status_code == 404
    assert outsider.get(reverse("relay:handoff-detail", args=[9999])).status_code == 404
    assert _act(outsider, hop, "acknowledge", note="").status_code == 404
    hop.refresh_from_db()
    assert hop.status == Status.SENT


def test_draft_is_invisible_to_its_future_receiver(net, login) -> None:
    sheet = net.sheet()
    hop = services.handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.npo,
        sections=["basic"],
        purpose="support",
    )
    assert (
        login(net.npo_intake).get(reverse("relay:handoff-detail", args=[hop.pk])).status_code == 404
    )


def test_viewer_sees_no_action_buttons_and_cannot_post_them(net, login, sent) -> None:
    _sheet, hop = sent
    viewer_of_receiver = Staff.for_user(
        MembershipFactory(agency=net.npo, role=Role.VIEWER, user__username="npo-viewer").user
    )
    client = login(viewer_of_receiver)
    body = client.get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    assert "受領を確認する" not in body and "辞退する" not in body
    assert "いまできる操作はありません。" in body
    for name in ("acknowledge", "accept", "decline", "complete", "cancel"):
        assert (
            _act(client, hop, name, note="", reason="other", outcome="support_started").status_code
            == 403
        )
    # The sending agency's viewer cannot cancel either.
    assert _act(login(net.viewer), hop, "cancel", reason="sent_in_error").status_code == 403
    hop.refresh_from_db()
    assert hop.status == Status.SENT


def test_actions_require_csrf(net, sent) -> None:
    from django.contrib.auth import get_user_model

    _sheet, hop = sent
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(pk=net.npo_intake.user_id))
    response = _act(client, hop, "acknowledge", note="")
    assert response.status_code == 403
    hop.refresh_from_db()
    assert hop.status == Status.SENT


def test_intake_acknowledges_accepts_and_completes(net, login, sent) -> None:
    """GIVEN a hop sent to the NPO WHEN its intake acknowledges, accepts and completes it THEN
    the sender sees the outcome on its own page."""
    _sheet, hop = sent
    client = login(net.npo_intake)
    page = client.get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    assert "受領を確認する" in page and "受け入れる" in page and "辞退する" in page
    assert "取り下げる" not in page  # the sender's action
    assert _act(client, hop, "acknowledge", note="").status_code == 302
    assert _act(client, hop, "accept", note="来週面談").status_code == 302
    assert _act(client, hop, "complete", outcome="support_started", note="").status_code == 302
    hop.refresh_from_db()
    assert hop.status == Status.COMPLETED and hop.outcome == "support_started"
    sender_page = (
        login(net.counselor).get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    )
    assert "支援を開始した" in sender_page
    # A second completion is refused as a state error, not a crash.
    again = _act(client, hop, "complete", outcome="unreachable", note="")
    assert again.status_code == 302
    hop.refresh_from_db()
    assert hop.outcome == "support_started"


def test_decline_needs_a_reason_shown_next_to_the_field(net, login, sent) -> None:
    _sheet, hop = sent
    client = login(net.npo_intake)
    response = _act(client, hop, "decline", reason="other", note="")
    assert response.status_code == 400
    body = response.content.decode()
    assert "「その他」の場合は理由を記入してください。" in body
    assert 'id="id_decline-note_error"' in body
    assert _act(client, hop, "decline", reason="no_capacity", note="").status_code == 302
    hop.refresh_from_db()
    assert hop.status == Status.DECLINED
    after = client.get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    assert "2学期から登校しぶり" not in after  # declining ends the receiver's access
    assert (
        "受け入れ枠がない"
        in login(net.counselor).get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    )


def test_sender_cancels_and_receiver_loses_the_content(net, login, sent) -> None:
    _sheet, hop = sent
    assert _act(login(net.npo_intake), hop, "cancel", reason="sent_in_error").status_code == 403
    assert (
        _act(login(net.counselor), hop, "cancel", reason="sent_in_error", note="").status_code
        == 302
    )
    hop.refresh_from_db()
    assert hop.status == Status.CANCELLED
    body = (
        login(net.npo_intake).get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    )
    assert "この引き継ぎは終了しているため、内容は表示できません。" in body


def test_timeline_hides_the_other_agencys_reads(net, login, sent) -> None:
    _sheet, hop = sent
    login(net.npo_intake).get(reverse("relay:handoff-detail", args=[hop.pk]))  # NPO reads
    login(net.counselor).get(reverse("relay:handoff-detail", args=[hop.pk]))  # ward reads
    sender_body = (
        login(net.counselor).get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    )
    timeline = sender_body.split('data-testid="timeline"')[1]
    assert "引き継ぎを送付" in timeline and "引き継ぎを作成" in timeline
    assert timeline.count("引き継ぎを閲覧") == 2  # the ward's own two reads, not the NPO's
    receiver_body = (
        login(net.npo_intake).get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    )
    receiver_timeline = receiver_body.split('data-testid="timeline"')[1]
    assert "引き継ぎを送付" in receiver_timeline
    assert "引き継ぎを作成" not in receiver_timeline  # the sender's internal step
    assert "引き継ぎを閲覧" not in receiver_timeline  # reads are no people-facing event
    assert "counselor" not in receiver_timeline  # other agencies' staff by agency name only


def test_supervisor_approves_or_returns_from_the_queue(net, login) -> None:
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    first = net.send(sheet, to=net.npo)
    second = net.send(sheet, to=net.guidance)
    assert first.status == second.status == Status.AWAITING_APPROVAL
    queue = login(net.supervisor).get(reverse("relay:approvals")).content.decode()
    assert f'data-handoff="{first.pk}"' in queue and f'data-handoff="{second.pk}"' in queue
    assert _act(login(net.counselor), first, "approve").status_code == 403
    response = login(net.supervisor).post(
        reverse("relay:handoff-action", args=[first.pk, "approve"]),
        {"next": reverse("relay:approvals")},
    )
    assert response["Location"] == reverse("relay:approvals")
    refused = _act(login(net.supervisor), second, "return", note="")
    assert refused.status_code == 400
    _act(login(net.supervisor), second, "return", note="項目を絞ってください")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.SENT and first.approved_by_id == net.supervisor.user_id
    # The reason is a note of its own (relay.HandoffNote), shown on the hop page.
    assert second.status == Status.DRAFT
    assert [(n.kind, n.text) for n in second.notes.all()] == [("return", "項目を絞ってください")]
    page = login(net.counselor).get(reverse("relay:handoff-detail", args=[second.pk]))
    assert "項目を絞ってください" in page.content.decode()


def test_outbox_and_notifications(net, login, sent) -> None:
    _sheet, hop = sent
    assert (
        f"引き継ぎ #{hop.pk}" in login(net.counselor).get(reverse("relay:outbox")).content.decode()
    )
    client = login(net.npo_intake)
    home = client.get(reverse("relay:home")).content.decode()
    assert 'class="count"' in home  # unread notice
    body = client.get(reverse("relay:notifications")).content.decode()
    assert "新しい引き継ぎが届きました" in body
    assert reverse("relay:handoff-detail", args=[hop.pk]) in body
    assert "A.T" not in body
    assert 'class="count"' not in client.get(reverse("relay:home")).content.decode()


def test_a_return_reads_as_a_return_in_the_timeline(net, login) -> None:
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    services.handoff_return_to_draft(staff=net.supervisor, handoff_id=hop.pk, note="項目を確認")
    body = login(net.counselor).get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    assert "差し戻し(下書きに戻す)" in body
    assert "送付する" in body  # the counselor can resubmit the returned draft


def test_the_sender_sends_an_update_from_the_hop_page(net, login, sent) -> None:
    """GIVEN a sent hop and an edit of a shared section WHEN the sender presses 「更新を送付する」
    THEN the receiver's page shows the new text as version 2, with version 1 in the history
    (and still readable); the receiver has no such button; an update with no change is
    refused next to the form."""
    sheet, hop = sent
    services.sheet_update(
        staff=net.counselor,
        sheet_id=sheet.pk,
        data={"consultation": "面談の結果を追記しました"},
        reason="面談の結果",
    )
    receiver = login(net.npo_intake)
    page = receiver.get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    assert "面談の結果を追記しました" not in page and "send_update" not in page

    counselor = login(net.counselor)
    assert "更新を送付する" in counselor.get(
        reverse("relay:handoff-detail", args=[hop.pk])
    ).content.decode()
    assert _act(counselor, hop, "send_update", note="追記があります").status_code == 302

    page = receiver.get(reverse("relay:handoff-detail", args=[hop.pk])).content.decode()
    assert "面談の結果を追記しました" in page and 'data-testid="versions"' in page
    assert "追記があります" in page
    first = receiver.get(reverse("relay:handoff-detail", args=[hop.pk]), {"version": 1})
    assert "面談の結果を追記しました" not in first.content.decode()
    assert "過去の版を表示中" in first.content.decode()
    again = _act(counselor, hop, "send_update", note="")
    assert again.status_code == 400
    assert "前回の送付から内容が変わっていません" in again.content.decode()
