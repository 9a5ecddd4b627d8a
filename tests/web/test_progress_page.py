"""The hop page's updates timeline and the receiver's form, as each party and an outsider."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from agencies.models import AgencyKind
from consent.vocabulary import Section
from relay import services
from relay.models import Handoff, ProgressUpdate

pytestmark = pytest.mark.django_db

WORDS = "週2回、午前中に通所しています。"


def _accepted(net, *, progress_consent: bool) -> Handoff:
    sheet = net.sheet()
    net.consent(sheet)
    if progress_consent:
        net.consent(sheet, to=[net.ward], sections=[Section.PROGRESS])
    hop = net.send(sheet)
    services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    return hop


def _page(client: Client, hop: Handoff):
    return client.get(reverse("relay:handoff-detail", args=[hop.pk]))


def _post(client: Client, hop: Handoff, **data: str):
    fields = {f"post_progress-{k}": v for k, v in data.items()}
    return client.post(reverse("relay:handoff-action", args=[hop.pk, "post_progress"]), fields)


def test_the_receiver_reports_and_the_sender_reads_it(net, login) -> None:
    """GIVEN an accepted hop and consent to report progress to the ward WHEN the NPO's intake
    posts the form THEN both pages show the status and text; the sender has no form."""
    hop = _accepted(net, progress_consent=True)
    intake = login(net.npo_intake)
    form_page = _page(intake, hop).content.decode()
    assert "経過を報告する" in form_page
    assert "post_progress-attendance_days" not in form_page  # an NPO, not a center

    assert _post(intake, hop, status="started", text=WORDS).status_code == 302
    assert WORDS in _page(intake, hop).content.decode()
    sender = _page(login(net.counselor), hop).content.decode()
    assert WORDS in sender and "通所開始" in sender
    assert "経過を報告する" not in sender
    # The timeline says that the receiver reported; the receiver's reads stay its own.
    assert "受け入れ後の経過を報告" in sender and "受け入れ後の経過を閲覧" not in sender


def test_without_consent_the_sender_page_shows_only_that_one_exists(net, login) -> None:
    hop = _accepted(net, progress_consent=False)
    intake = login(net.npo_intake)
    assert _post(intake, hop, status="continuing", text=WORDS).status_code == 302
    mine = _page(intake, hop).content.decode()
    assert WORDS in mine and 'data-testid="progress-withheld"' in mine
    sender = _page(login(net.counselor), hop).content.decode()
    assert WORDS not in sender and "継続中" not in sender
    assert 'data-testid="progress-hidden"' in sender


def test_a_bad_month_is_shown_next_to_the_field_and_nothing_is_saved(net, login) -> None:
    net.npo.kind = AgencyKind.EDUCATION_SUPPORT
    net.npo.save(update_fields=["kind"])
    hop = _accepted(net, progress_consent=True)
    intake = login(net.npo_intake)
    assert "post_progress-attendance_days" in _page(intake, hop).content.decode()
    response = _post(
        intake, hop, status="continuing", attendance_month="2999-01", attendance_days="3"
    )
    assert response.status_code == 400
    assert "まだ来ていない月" in response.content.decode()
    assert _post(intake, hop, status="", text="x").status_code == 400
    assert ProgressUpdate.objects.count() == 0
    ok = _post(intake, hop, status="continuing", attendance_month="2026-01", attendance_days="12")
    assert ok.status_code == 302
    assert "2026年1月の通所日数: 12日" in _page(login(net.counselor), hop).content.decode()


def test_another_agency_gets_404_and_the_sender_cannot_post(net, login) -> None:
    hop = _accepted(net, progress_consent=True)
    outsider = login(net.welfare_intake)
    assert _page(outsider, hop).status_code == 404
    assert _post(outsider, hop, status="started", text="x").status_code == 404
    assert _post(login(net.counselor), hop, status="started", text="x").status_code == 403
    assert _post(login(net.viewer), hop, status="started", text="x").status_code == 403
    assert ProgressUpdate.objects.count() == 0


def test_the_consent_form_can_grant_progress_to_the_sender_itself(net, login) -> None:
    """The consent screen offers the section 受け入れ後の経過 and lists the recording agency
    among the recipients, so the person can agree that progress comes back to it."""
    sheet = net.sheet()
    page = login(net.counselor).get(reverse("relay:consent-new", args=[sheet.pk])).content
    text = page.decode()
    assert 'value="progress"' in text and "受け入れ後の経過" in text
    assert f'value="{net.ward.pk}"' in text
