"""The handoff page as each side reads it: the receiver's history holds what people did about
the hop, never the system's bookkeeping; every reason reads in words; the receiver sees whom to
call at the sending agency."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agencies.errors import ConsentDoesNotCover
from agencies.services import membership_set
from audit.context import Actor
from consent.models import Decision
from relay import services
from relay.services.escalations import escalate_due
from relay.states import Status
from tests.fixtures import sign_in

pytestmark = pytest.mark.django_db

INTERNAL = ("閲覧権限を付与", "閲覧権限を取消", "通知を登録", "エスカレーション", "引き継ぎを閲覧")
CODES = ("recipient-not-covered", "sections-not-covered", "refused", "handoff.", "access.")


def _page(client: Client, hop_id: int) -> str:
    return client.get(reverse("relay:handoff-detail", args=[hop_id])).content.decode()


def _timeline(body: str) -> str:
    return body.split('data-testid="timeline"')[1].split("</ol>")[0]


def test_the_receiver_sees_what_people_did_not_the_systems_steps(net, login, sent) -> None:
    """GIVEN a sent hop that escalated, was read by both sides and acknowledged WHEN the NPO's
    intake worker opens it THEN its history shows the send and the acknowledgment only (no
    grants of access, queued notices, escalation steps or reads, its own neither); the sender
    keeps its fuller record (its grants, notices and own reads), with no raw code in it."""
    _sheet, hop = sent
    escalate_due(now=timezone.now() + timedelta(days=10))
    receiver = login(net.npo_intake)
    _page(receiver, hop.pk)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk, note="確認しました")
    sender = login(net.counselor)
    _page(sender, hop.pk)

    page = _page(receiver, hop.pk)
    history = _timeline(page)
    assert "引き継ぎを送付" in history and "受領を確認" in history
    for internal in INTERNAL:
        assert internal not in history, internal
    assert "確認しました" in page  # the note itself, in the notes section

    history = _timeline(_page(sender, hop.pk))
    assert "閲覧権限を付与" in history and "通知を登録" in history and "エスカレーション" in history
    assert history.count("引き継ぎを閲覧") >= 1  # the ward's own reads, never the NPO's
    for code in CODES:
        assert code not in history, code


def test_a_refused_send_reads_as_the_reason_in_words(net, login) -> None:
    """GIVEN a draft to an agency no consent names WHEN it is sent THEN the sender's history
    says why in words (the recipient is not covered), never the policy's reason code."""
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo])
    hop = services.handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.guidance,
        sections=["basic"],
        purpose="support",
    )
    with pytest.raises(ConsentDoesNotCover):
        services.handoff_submit(staff=net.counselor, handoff_id=hop.pk)
    history = _timeline(_page(login(net.counselor), hop.pk))
    assert "同意の範囲外(送付先への提供に同意がない)" in history
    assert "recipient-not-covered" not in history


def test_a_refusal_after_the_send_reads_in_words_and_stays_with_the_sender(
    net, login, sent
) -> None:
    """GIVEN a sent hop WHEN the guardian's refusal of one shared section is recorded THEN
    the sender's history says the access was narrowed because of the refusal, in words; the
    receiver's history shows nothing of it."""
    sheet, hop = sent
    services.consent_record(
        staff=net.counselor,
        sheet_id=sheet.pk,
        grantors=["guardian"],
        method="written",
        recipients=[net.npo],
        sections=["consultation"],
        purposes=["support"],
        valid_until=timezone.now() + timedelta(days=30),
        decision=Decision.DENY,
    )
    history = _timeline(_page(login(net.counselor), hop.pk))
    assert "閲覧権限を取消" in history and "本人・保護者が提供を拒否したため" in history
    assert "refused" not in history
    assert "閲覧権限を取消" not in _timeline(_page(login(net.npo_intake), hop.pk))


def test_the_receiver_sees_whom_to_call_by_name_never_a_login_id(net, login) -> None:
    """GIVEN a counselor with a name and a direct line, at an agency with a phone number WHEN
    the hop is sent THEN the receiver's page shows the counselor's name (family name first),
    the direct line, and the agency's number as a phone link, and not the login ID."""
    net.ward.phone = "03-3880-5000"
    net.ward.save()
    user = get_user_model().objects.get(pk=net.counselor.user_id)
    user.last_name, user.first_name = "佐藤", "美咲"
    user.save()
    membership_set(
        user=user,
        agency=net.ward,
        role=user.membership.role,
        actor=Actor.system("test"),
        phone="内線 4121",
    )
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    page = _page(login(net.npo_intake), hop.pk)
    contact = page.split('data-testid="sender-contact"')[1].split("</dd>")[0]
    assert "佐藤 美咲" in contact
    assert (
        '佐藤 美咲<span class="nowrap">(内線 4121)' in contact
        and 'href="tel:03-3880-5000"' in contact
    )
    assert user.username not in contact
    # The sender's own page names its staff the same way, in the history and the notes.
    own = _page(login(net.counselor), hop.pk)
    assert "佐藤 美咲" in _timeline(own) and user.username not in _timeline(own)


def test_a_contact_without_a_registered_name_says_so(net, login, sent) -> None:
    _sheet, hop = sent
    page = _page(login(net.npo_intake), hop.pk)
    contact = page.split('data-testid="sender-contact"')[1].split("</dd>")[0]
    assert "氏名の登録なし" in contact and "電話番号の登録なし" in contact
    assert net.counselor.user.username not in contact


def test_a_draft_shows_no_contact_yet(net, login) -> None:
    sheet = net.sheet()
    hop = services.handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.npo,
        sections=["basic"],
        purpose="support",
    )
    assert hop.status == Status.DRAFT
    assert 'data-testid="sender-contact"' not in _page(login(net.counselor), hop.pk)


def test_the_staff_phone_is_edited_in_the_admin(net) -> None:
    admin_user = get_user_model().objects.create_user(
        "ops", password="pw-for-tests-only", is_staff=True, is_superuser=True
    )
    client = sign_in(Client(), admin_user)
    membership = net.counselor.user.membership
    url = reverse("admin:agencies_membership_change", args=[membership.pk])
    assert 'name="phone"' in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "user": membership.user_id,
            "agency": membership.agency_id,
            "role": membership.role,
            "phone": "内線 4121",
        },
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.phone == "内線 4121"
