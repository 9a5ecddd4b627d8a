"""Home, for each role: what needs attention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from relay.models import Handoff
from relay.states import Status

pytestmark = pytest.mark.django_db


def test_counselor_home_shows_sent_handoffs_and_sheets(net, login, sent) -> None:
    sheet, hop = sent
    body = login(net.counselor).get(reverse("relay:home")).content.decode()
    assert "新しいシートを作成" in body
    assert f"引き継ぎ #{hop.pk}" in body and f"シート #{sheet.pk}" in body


def test_intake_home_shows_new_and_overdue_with_escalation_level(net, login, sent) -> None:
    _sheet, hop = sent
    Handoff.objects.filter(pk=hop.pk).update(
        ack_due_at=hop.sent_at - timedelta(hours=1), escalation_level=2
    )
    body = login(net.npo_intake).get(reverse("relay:home")).content.decode()
    assert "受領確認の期限を過ぎています" in body
    assert "催促 段階2" in body
    assert "新しいシートを作成" not in body  # intake does not write sheets


def test_supervisor_home_shows_the_approval_queue(net, login) -> None:
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    assert hop.status == Status.AWAITING_APPROVAL
    body = login(net.supervisor).get(reverse("relay:home")).content.decode()
    assert "承認を待っている引き継ぎ" in body and f"引き継ぎ #{hop.pk}" in body
    assert reverse("relay:approvals") in body


def test_viewer_home_is_read_only(net, login, sent) -> None:
    body = login(net.viewer).get(reverse("relay:home")).content.decode()
    assert "新しいシートを作成" not in body
    assert reverse("relay:audit-log") not in body  # supervisor menu
