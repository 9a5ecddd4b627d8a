"""The consent screens where the person is: an agency holding a sheet through a hop records
the consent it obtained; the owner sees it read-only; only the recording agency withdraws it;
the first sender's chain names whose consent each hop went under (Adachi story, seeds/004)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agencies.actors import Staff
from consent.models import ConsentRecord, ConsentStatus
from relay import services
from relay.models import Handoff
from relay.states import Status
from tests.adachi import Adachi, build_adachi

pytestmark = pytest.mark.django_db

Login = Callable[[Staff], Client]


@pytest.fixture
def adachi(db) -> Adachi:
    """The Adachi network (tests/adachi.py)."""
    return build_adachi()


@pytest.fixture
def held(adachi: Adachi):
    """The sheet consented at the ward desk to the center, and accepted there."""
    sheet = adachi.sheet()
    adachi.ward_consent(sheet)
    return sheet, adachi.first_hop(sheet)


def _form(adachi: Adachi, **overrides: Any) -> dict[str, Any]:
    data = {
        "basis": "consent",
        "decision": "permit",
        "grantors": ["person", "guardian"],
        "method": "written",
        "child_assent": "assented",
        "obtained_on": timezone.localdate().isoformat(),
        "recipients": [str(adachi.free_school.pk)],
        "sections": ["basic", "attendance"],
        "purposes": ["support"],
        "valid_until": (timezone.localdate() + timedelta(days=90)).isoformat(),
    }
    data.update(overrides)
    return data


def test_the_center_records_consent_on_the_sheet_it_holds(adachi: Adachi, held, login) -> None:
    """GIVEN the center accepted the hop WHEN its intake staff open the consent screen and
    record the family's consent THEN the screen offers only the sections the center holds, the
    record is the center's, and the center's sheet page lists it with a withdraw link."""
    sheet, _first = held
    client = login(adachi.center_intake)
    url = reverse("relay:consent-new", args=[sheet.pk])
    page = client.get(url).content.decode()
    assert 'data-testid="holder-consent-note"' in page
    assert 'value="attendance"' in page and 'value="health"' not in page

    response = client.post(url, _form(adachi))

    assert response.status_code == 302, response.content.decode()[:2000]
    record = ConsentRecord.objects.get(agency=adachi.center)
    assert sorted(record.sections) == ["attendance", "basic"]
    detail = client.get(reverse("relay:sheet-detail", args=[sheet.pk])).content.decode()
    assert f'data-consent="{record.pk}"' in detail
    assert reverse("relay:consent-withdraw", args=[record.pk]) in detail
    # The owner's record is not shown to the center (it names who consented, and to whom).
    assert f'data-consent="{_first.consent_id}"' not in detail


def test_a_section_the_center_does_not_hold_is_refused(adachi: Adachi, held, login) -> None:
    sheet, _first = held
    response = login(adachi.center_counselor).post(
        reverse("relay:consent-new", args=[sheet.pk]), _form(adachi, sections=["basic", "health"])
    )
    assert response.status_code == 400
    assert not ConsentRecord.objects.filter(agency=adachi.center).exists()


def test_the_owner_sees_the_centers_record_read_only(adachi: Adachi, held, login) -> None:
    sheet, _first = held
    record = adachi.center_consent(sheet)
    client = login(adachi.ward_counselor)
    detail = client.get(reverse("relay:sheet-detail", args=[sheet.pk])).content.decode()
    assert f'data-consent="{record.pk}"' in detail
    assert 'data-testid="consent-read-only"' in detail
    assert reverse("relay:consent-withdraw", args=[record.pk]) not in detail
    assert reverse("relay:consent-print", args=[record.pk]) not in detail
    assert (
        client.post(reverse("relay:consent-withdraw", args=[record.pk]), {"via": "x"}).status_code
        == 404
    )
    record.refresh_from_db()
    assert record.status == ConsentStatus.ACTIVE


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("outsider_counselor", 404),  # another agency, not holding the sheet
        ("school_intake", 404),  # an agency the sheet has not reached
        ("center_viewer", 403),  # the holder, in another role
    ],
)
def test_who_may_open_the_consent_screen(adachi: Adachi, held, login, who, status) -> None:
    sheet, _first = held
    url = reverse("relay:consent-new", args=[sheet.pk])
    client = login(getattr(adachi, who))
    assert client.get(url).status_code == status
    assert client.post(url, _form(adachi)).status_code == status
    assert not ConsentRecord.objects.exclude(agency=adachi.ward).exists()


def test_a_holder_whose_hop_was_withdrawn_gets_not_found(adachi: Adachi, held, login) -> None:
    sheet, first = held
    services.consent_withdraw(
        staff=adachi.ward_counselor, record_id=first.consent_id, via="保護者から電話で"
    )
    client = login(adachi.center_counselor)
    assert client.get(reverse("relay:consent-new", args=[sheet.pk])).status_code == 404


def test_the_center_withdraws_its_own_record_and_only_its_hop_stops(
    adachi: Adachi, held, login
) -> None:
    sheet, first = held
    record = adachi.center_consent(sheet)
    onward = adachi.onward_hop(sheet)
    response = login(adachi.center_intake).post(
        reverse("relay:consent-withdraw", args=[record.pk]), {"via": "本人が来所して"}
    )
    assert response.status_code == 302
    first.refresh_from_db()
    onward.refresh_from_db()
    assert (first.status, onward.status) == (Status.ACCEPTED, Status.WITHDRAWN)


def _onward(adachi: Adachi, sheet) -> tuple[ConsentRecord, Handoff]:
    record = adachi.center_consent(sheet)
    return record, adachi.onward_hop(sheet)


def test_the_first_sender_sees_the_chain_and_whose_consent(adachi: Adachi, held, login) -> None:
    """GIVEN the center relayed onward under its own consent WHEN the ward opens home and the
    sheet THEN both hops are listed with the agency whose consent each went under; nothing of
    what the center noted on its own hop, and none of the center's drafts."""
    sheet, first = held
    record, onward = _onward(adachi, sheet)
    services.handoff_accept(staff=adachi.school_intake, handoff_id=onward.pk, note="初回面談済")
    draft = services.handoff_create(
        staff=adachi.center_counselor,
        sheet_id=sheet.pk,
        to_agency=adachi.outsider,
        sections=["basic"],
        purpose="support",
    )
    client = login(adachi.ward_counselor)
    home = client.get("/").content.decode()
    assert f'data-chain-hop="{first.pk}"' in home and f'data-chain-hop="{onward.pk}"' in home
    assert f'data-chain-consent="{record.pk}"' in home
    assert f'data-chain-consent-agency="{adachi.center.pk}"' in home
    assert f'data-chain-consent-agency="{adachi.ward.pk}"' in home
    assert f"{adachi.center.name}で記録した同意 #{record.pk}" in home
    assert "初回面談済" not in home
    detail = client.get(reverse("relay:sheet-detail", args=[sheet.pk])).content.decode()
    assert f'data-hop-consent="{record.pk}"' in detail
    assert f"#{draft.pk}<" not in detail and adachi.outsider.name not in detail


def test_the_onward_hop_page_names_the_recorder_and_offers_its_withdrawal(
    adachi: Adachi, held, login
) -> None:
    """The center's intake, on the hop it sent under the center's consent, reads who recorded
    the consent and may record its withdrawal (the consent was obtained at its counter)."""
    sheet, _first = held
    record, onward = _onward(adachi, sheet)
    page = (
        login(adachi.center_intake)
        .get(reverse("relay:handoff-detail", args=[onward.pk]))
        .content.decode()
    )
    assert f"({adachi.center.name}で記録)" in page
    assert reverse("relay:consent-withdraw", args=[record.pk]) in page
