"""Finding a sheet: Japanese-aware search and filters of the agency's own sheets, saved searches,
and what never shows up (another agency's sheets, another person's saved searches)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from relay import services
from relay.models import SavedFilter
from relay.search import fold
from tests.relay.conftest import SHEET_DATA

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Ｓ．Ｋ", "S.K"),
        ("s k", "S.K"),
        ("ｓｋ", "S・K"),
        ("アカシ", "あかし"),
        ("ｱｶｼ", "アカシ"),
        ("明石市立第一中学校", "明石市立 第一中学校"),
    ],
)
def test_folding_makes_what_a_person_calls_the_same_equal(typed: str, stored: str) -> None:
    assert fold(typed) == fold(stored)


def test_folding_keeps_what_differs() -> None:
    assert fold("S.K") != fold("S.T")
    assert fold("あかし") != fold("あかさ")


def _sheet(staff, **overrides):
    return services.sheet_create(staff=staff, data={**SHEET_DATA, **overrides})


def _ids(client, **query) -> set[int]:
    response = client.get(reverse("relay:sheet-list"), query)
    assert response.status_code == 200
    page = response.context["page"]
    return {s.pk for s in page.object_list}


def test_initials_match_in_any_width_and_never_another_agencys(net, login) -> None:
    """GIVEN two S.K sheets in this agency and an S.K sheet of another agency WHEN a counselor
    searches Ｓ．Ｋ (full width), "s k" or "sk" THEN both own sheets and nothing else are listed."""
    first = _sheet(net.counselor, subject_initials="S.K", school_name="明石市立第一中学校")
    second = _sheet(net.counselor, subject_initials="S.K", school_name="足立区立第五中学校")
    other = _sheet(net.counselor, subject_initials="A.T")
    theirs = _sheet(net.npo_supervisor, subject_initials="S.K")
    client = login(net.counselor)
    for typed in ("Ｓ．Ｋ", "s k", "sk"):
        found = _ids(client, q=typed)
        assert found == {first.pk, second.pk}, typed
        assert theirs.pk not in found and other.pk not in found
    body = client.get(reverse("relay:sheet-list"), {"q": "Ｓ．Ｋ"}).content.decode()
    assert "明石市立第一中学校" in body and "足立区立第五中学校" in body  # told apart by school


def test_the_other_agency_does_not_find_this_agencys_sheets(net, login) -> None:
    _sheet(net.counselor, subject_initials="S.K")
    assert _ids(login(net.npo_supervisor), q="SK") == set()


def test_school_grade_state_urgency_counselor_and_dates_narrow_the_list(net, login) -> None:
    akashi = _sheet(net.counselor, school_name="明石市立第一中学校", grade="j2")
    adachi = _sheet(
        net.counselor, school_name="足立区立第五中学校", grade="e5", urgency="urgent",
        consulted_on="2026-10-01",
    )
    by_supervisor = _sheet(net.supervisor, school_name="アカシ学園", grade="j2")
    net.consent(akashi)
    net.send(akashi)
    client = login(net.counselor)
    assert _ids(client, q="ﾒｲｾｷ") == set()  # the school is 明石, not read as kana
    assert _ids(client, q="第一中学") == {akashi.pk}
    assert _ids(client, q="あかし") == {by_supervisor.pk}
    assert _ids(client, grade="j2") == {akashi.pk, by_supervisor.pk}
    assert _ids(client, state="sent") == {akashi.pk}
    assert _ids(client, state="draft") == {adachi.pk, by_supervisor.pk}
    assert _ids(client, urgency="urgent") == {adachi.pk}
    assert _ids(client, counselor=str(net.supervisor.user.pk)) == {by_supervisor.pk}
    assert _ids(client, consulted_to="2026-10-31") == {adachi.pk}
    assert _ids(client, consulted_from="2026-11-01", grade="j2") == {akashi.pk, by_supervisor.pk}


def test_lists_show_school_and_grade(net, login) -> None:
    _sheet(net.counselor, school_name="明石市立第一中学校", grade="j2")
    body = login(net.counselor).get(reverse("relay:sheet-list")).content.decode()
    assert "明石市立第一中学校" in body and "中学2年" in body


def test_a_saved_search_is_the_savers_alone(net, login) -> None:
    """GIVEN a counselor's saved search WHEN the counselor, a colleague and another agency's staff
    open the list THEN only the counselor sees it; nobody else can delete it (404)."""
    mine = login(net.counselor)
    response = mine.post(
        reverse("relay:filter-save"),
        {"screen": "sheets", "name": "中2の急ぎ", "query": "grade=j2&urgency=urgent&page=3"},
    )
    assert response.status_code == 302
    saved = SavedFilter.objects.get()
    assert saved.query == "grade=j2&urgency=urgent"  # no page number kept
    assert response["Location"].endswith("?grade=j2&urgency=urgent")
    assert "中2の急ぎ" in mine.get(reverse("relay:sheet-list")).content.decode()
    for other in (net.supervisor, net.npo_supervisor):
        client = login(other)
        assert "中2の急ぎ" not in client.get(reverse("relay:sheet-list")).content.decode()
        delete = client.post(reverse("relay:filter-delete", args=[saved.pk]), {"screen": "sheets"})
        assert delete.status_code == 404
    assert SavedFilter.objects.filter(pk=saved.pk).exists()
    mine.post(reverse("relay:filter-delete", args=[saved.pk]), {"screen": "sheets"})
    assert not SavedFilter.objects.exists()


def test_a_saved_search_needs_a_name_and_nothing_is_saved_without_one(net, login) -> None:
    response = login(net.counselor).post(
        reverse("relay:filter-save"), {"screen": "sheets", "name": "  ", "query": "grade=j2"}
    )
    assert response.status_code == 302
    assert not SavedFilter.objects.exists()
