"""Searching the received hops, tried as a receiver and as an attacker would: a receiver finds
a hop by the initials, school and grade its provision gave it (full-width, half-width and kana
variants alike), never by what the owner changed after the send, never by a section it was not
given, and another agency's hops never appear."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent.models import Decision
from relay import services
from relay.models import Handoff

pytestmark = pytest.mark.django_db


def _inbox(client: Client, **query: str) -> str:
    return client.get(reverse("relay:inbox"), query).content.decode()


def _cells(body: str) -> str:
    """The school-and-grade cells of the list (the filter's own grade options left out)."""
    return "".join(part.split("</td>")[0] for part in body.split('data-testid="school-grade"')[1:])


def _found(body: str, hop: Handoff) -> bool:
    return f'href="{reverse("relay:handoff-detail", args=[hop.pk])}"' in body


@pytest.mark.parametrize(
    "query",
    [
        {"q": "A.T"},
        {"q": "ａｔ"},  # full-width, no dot
        {"q": "a・t"},
        {"q": "テスト中学"},
        {"q": "てすと"},  # hiragana for the katakana in the school's name
        {"q": "ﾃｽﾄ"},  # half-width katakana
        {"grade": "j2"},
        {"q": "at", "grade": "j2", "status": "sent"},
    ],
)
def test_a_receiver_finds_a_hop_by_what_it_was_given(net, login, sent, query) -> None:
    _sheet, hop = sent
    assert _found(_inbox(login(net.npo_intake), **query), hop)


def test_no_match_says_so_and_the_list_shows_school_and_grade(net, login, sent) -> None:
    _sheet, hop = sent
    client = login(net.npo_intake)
    assert not _found(_inbox(client, q="S.K"), hop)
    assert not _found(_inbox(client, grade="e3"), hop)
    assert "条件に合う引き継ぎはありません。" in _inbox(client, q="S.K")
    body = _inbox(client)
    cell = _cells(body)
    assert "明石市立テスト中学校" in cell and "中学2年" in cell
    assert "A.T" not in body  # lists never show the person's initials


def test_an_edit_after_the_send_is_not_searchable_until_it_is_sent(net, login, sent) -> None:
    """GIVEN a sent hop WHEN the owner changes the school and grade on the live sheet THEN the
    receiver finds the hop by the old values only and its inbox shows the old ones; once the
    update is sent, the new values are what it holds and searches by."""
    sheet, hop = sent
    services.sheet_update(
        staff=net.counselor,
        sheet_id=sheet.pk,
        data={"school_name": "港区立ひみつ中学校", "grade": "j3", "subject_initials": "Z.Q"},
        reason="転校",
    )
    client = login(net.npo_intake)
    for query in ({"q": "ひみつ"}, {"q": "Z.Q"}, {"grade": "j3"}):
        assert not _found(_inbox(client, **query), hop), query
    cells = _cells(_inbox(client))
    assert "明石市立テスト中学校" in cells and "中学2年" in cells
    assert "港区立ひみつ中学校" not in cells and "中学3年" not in cells
    assert _found(_inbox(client, q="テスト中学"), hop)

    services.handoff_send_update(staff=net.counselor, handoff_id=hop.pk, note="転校しました")
    assert _found(_inbox(client, q="ひみつ"), hop)
    assert _found(_inbox(client, q="zq", grade="j3"), hop)
    assert not _found(_inbox(client, q="テスト中学"), hop)


def test_a_hop_without_the_basic_section_is_not_found_by_it(net, login) -> None:
    """GIVEN a hop that shares the consultation only WHEN the receiver searches by the
    initials, the school or the grade THEN it is not found, and no school shows for it."""
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet, sections=["consultation"])
    client = login(net.npo_intake)
    assert _found(_inbox(client), hop)
    for query in ({"q": "A.T"}, {"q": "テスト"}, {"grade": "j2"}):
        assert not _found(_inbox(client, **query), hop), query
    assert "明石市立テスト中学校" not in _inbox(client)


def test_a_hop_whose_content_was_taken_back_is_not_found(net, login, sent) -> None:
    """A declined hop (the receiver lost its content) and a hop whose basic section was
    refused after the send are no longer found by what that section held."""
    sheet, hop = sent
    services.consent_record(
        staff=net.counselor,
        sheet_id=sheet.pk,
        grantors=["guardian"],
        method="written",
        recipients=[net.npo],
        sections=["basic"],
        purposes=["support"],
        valid_until=timezone.now() + timedelta(days=30),
        decision=Decision.DENY,
    )
    client = login(net.npo_intake)
    assert _found(_inbox(client), hop)
    assert not _found(_inbox(client, q="A.T"), hop)
    assert "明石市立テスト中学校" not in _inbox(client)

    other = net.sheet(subject_initials="K.M")
    net.consent(other)
    declined = net.send(other)
    assert _found(_inbox(client, q="K.M"), declined)
    services.handoff_decline(
        staff=net.npo_intake, handoff_id=declined.pk, reason="out_of_scope", note=""
    )
    assert not _found(_inbox(client, q="K.M"), declined)


def test_another_agencys_hops_never_appear(net, login, sent) -> None:
    _sheet, hop = sent
    for staff in (net.welfare_intake, net.guidance_intake):
        client = login(staff)
        for query in ({}, {"q": "A.T"}, {"q": "テスト中学"}, {"grade": "j2"}):
            body = _inbox(client, **query)
            assert not _found(body, hop) and "明石市立テスト中学校" not in body


def test_the_outbox_shows_and_finds_what_was_sent(net, login, sent) -> None:
    _sheet, hop = sent
    client = login(net.counselor)
    body = client.get(reverse("relay:outbox"), {"q": "ａ．ｔ"}).content.decode()
    assert _found(body, hop) and "明石市立テスト中学校" in body
    body = client.get(reverse("relay:outbox"), {"q": "S.K"}).content.decode()
    assert not _found(body, hop)


def test_an_inbox_search_can_be_saved(net, login, sent) -> None:
    client = login(net.npo_intake)
    response = client.post(
        reverse("relay:filter-save"), {"screen": "inbox", "name": "足立の中2", "query": "grade=j2"}
    )
    assert response.status_code == 302
    assert "足立の中2" in _inbox(client)


def test_the_home_page_shows_school_and_grade_under_the_hop(net, login, sent) -> None:
    _sheet, hop = sent
    assert hop.status == "sent"
    home = login(net.npo_intake).get(reverse("relay:home")).content.decode()
    cell = home.split('data-testid="school-grade-compact"')[1].split("</small>")[0]
    assert "明石市立テスト中学校" in cell and "中学2年" in cell
