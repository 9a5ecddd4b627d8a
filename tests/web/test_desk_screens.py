"""A routing desk's screens: the triage inbox, intake records, and the public intake form with
its abuse limits. Access is tested as an attacker would: another agency, another role, no
sign-in."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from agencies.actors import Staff
from audit.models import AuditAction, AuditEvent
from relay.models import Handoff, IntakeRecord, IntakeStatus
from relay.services import desks
from relay.states import Status
from tests.fixtures import Network
from tests.komae import ROUTING_SECTIONS, Komae, _to_desk

Login = Callable[[Staff], Client]

FORM = {
    "asker": "family",
    "situation": "中学生の子が春から学校に行けていません。",
    "contact_method": "phone",
    "contact_detail": "090-0000-0000",
    "consent_to_contact": "on",
    "website": "",
}


@pytest.fixture(autouse=True)
def _fresh_rate_limit() -> None:
    cache.clear()


def _intake(komae: Komae) -> IntakeRecord:
    return desks.intake_submit(
        desk=komae.routing,
        asker="person",
        contact_method="email",
        contact_detail="me@example.invalid",
        situation="ひとりで 家に いる ことが 多いです",
        consent_to_contact=True,
    )


# --- The public form ----------------------------------------------------------------------


def test_public_form_creates_an_intake_and_shows_nothing_back(komae: Komae) -> None:
    """GIVEN anyone, not signed in; WHEN they send the form; THEN an intake record is in the
    desk's inbox, and the thank-you page shows the desk's phone and hours, not what was sent."""
    komae.desk.phone = "03-3430-1111"
    komae.desk.hours = "平日 8:30〜17:15"
    komae.desk.save()
    client = Client(enforce_csrf_checks=True)
    url = reverse("relay:public-intake", args=[komae.desk.slug])
    page = client.get(url)
    assert page.status_code == 200
    assert "こまっていること" in page.content.decode()
    token = page.cookies["csrftoken"].value

    response = client.post(url, {**FORM, "csrfmiddlewaretoken": token}, follow=True)

    body = response.content.decode()
    assert response.status_code == 200
    assert "03-3430-1111" in body and "8:30" in body
    assert "090-0000-0000" not in body and "学校に行けて" not in body
    intake = IntakeRecord.objects.get()
    assert intake.desk_id == komae.desk.pk and intake.status == IntakeStatus.NEW
    event = AuditEvent.objects.get(action=AuditAction.INTAKE_RECEIVED)
    assert event.object_id == str(intake.pk)
    assert "090" not in str(event.detail) and "学校" not in str(event.detail)


def test_public_form_needs_csrf(komae: Komae) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("relay:public-intake", args=[komae.desk.slug]), FORM)
    assert response.status_code == 403
    assert not IntakeRecord.objects.exists()


def test_honeypot_stores_nothing_and_looks_like_success(client: Client, komae: Komae) -> None:
    response = client.post(
        reverse("relay:public-intake", args=[komae.desk.slug]), {**FORM, "website": "http://x"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("/thanks/")
    assert not IntakeRecord.objects.exists()


def test_per_ip_limit(client: Client, komae: Komae, settings) -> None:
    """Past the hourly limit for one address: 429, nothing stored; another address still
    gets through."""
    settings.PUBLIC_INTAKE_PER_HOUR = 2
    url = reverse("relay:public-intake", args=[komae.desk.slug])
    for _ in range(2):
        assert client.post(url, FORM, REMOTE_ADDR="198.51.100.7").status_code == 302
    refused = client.post(url, FORM, REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 429
    assert IntakeRecord.objects.count() == 2
    assert client.post(url, FORM, REMOTE_ADDR="198.51.100.8").status_code == 302


def test_oversize_and_control_characters_are_refused(
    client: Client, komae: Komae, settings
) -> None:
    url = reverse("relay:public-intake", args=[komae.desk.slug])
    too_long = client.post(url, {**FORM, "situation": "あ" * 2001})
    assert too_long.status_code == 400
    assert "2000" in too_long.content.decode()
    control = client.post(url, {**FORM, "contact_detail": "090\x00-1111"})
    assert control.status_code == 400
    settings.PUBLIC_INTAKE_MAX_BYTES = 1000
    body = client.post(url, {**FORM, "situation": "あ" * 1500})
    assert body.status_code == 413
    missing = client.post(url, {**FORM, "consent_to_contact": ""})
    assert missing.status_code == 400
    assert not IntakeRecord.objects.exists()


def test_public_form_of_an_agency_that_is_not_a_desk_is_404(client: Client, net: Network) -> None:
    assert client.get(reverse("relay:public-intake", args=[net.ward.slug])).status_code == 404


def test_public_form_has_a_phone_layout(client: Client, komae: Komae) -> None:
    body = client.get(reverse("relay:public-intake", args=[komae.desk.slug])).content.decode()
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in body
    assert 'lang="ja"' in body
    assert ' style="' not in body


# --- The triage inbox and intake records -------------------------------------------------


def test_triage_inbox_shows_hops_intakes_and_suggestions(
    net: Network, komae: Komae, login: Login
) -> None:
    net.npo.municipality = "狛江市"
    net.npo.save()
    hop = _to_desk(net, komae)
    intake = _intake(komae)
    body = login(komae.counselor).get(reverse("relay:desk")).content.decode()
    assert f"desk-hop-{hop.pk}" in body
    assert f"intake-{intake.pk}" in body
    assert f"suggestion-{net.npo.slug}" in body
    # Not child guidance: the person did not agree to it.
    assert f"suggestion-{net.guidance.slug}" not in body
    # The list shows no intake text or contact.
    assert "me@example.invalid" not in body


def test_route_from_the_triage_screen(net: Network, komae: Komae, login: Login) -> None:
    hop = _to_desk(net, komae)
    client = login(komae.counselor)
    client.post(reverse("relay:desk-route", args=[hop.pk]), {"to_agency": net.npo.pk})
    routed = Handoff.objects.get(parent=hop)
    assert routed.to_agency_id == net.npo.pk and routed.status == Status.SENT
    assert routed.sections == ROUTING_SECTIONS
    refused = client.post(
        reverse("relay:desk-route", args=[hop.pk]), {"to_agency": net.guidance.pk}, follow=True
    )
    assert "種別" in refused.content.decode()
    assert not Handoff.objects.filter(to_agency=net.guidance).exists()


def test_return_and_assign_from_the_triage_screen(net: Network, komae: Komae, login: Login) -> None:
    hop = _to_desk(net, komae)
    intake_client = login(komae.intake)
    intake_client.post(
        reverse("relay:desk-assign", args=[hop.pk]), {"assignee": komae.colleague.user_id}
    )
    assert hop.desk_assignment.assignee_id == komae.colleague.user_id
    # An intake clerk may assign, not route or return.
    assert (
        intake_client.post(reverse("relay:desk-return", args=[hop.pk]), {"note": "x"}).status_code
        == 403
    )
    login(komae.counselor).post(
        reverse("relay:desk-return", args=[hop.pk]), {"note": "学校と先に相談してください"}
    )
    hop.refresh_from_db()
    assert hop.status == Status.DECLINED


@pytest.mark.parametrize("what", ["hop", "intake"])
def test_assigning_says_how_it_went_and_goes_back(
    what: str, net: Network, komae: Komae, login: Login
) -> None:
    """GIVEN a hop received by the desk, or an intake record WHEN an intake clerk assigns it
    to someone who is not a colleague, then to a colleague THEN the first is refused with
    「担当者を選び直してください。」 and nothing written, the second says 「担当者を決めました。」
    and writes one audit event; both go back where the screen came from (the triage inbox for
    a hop, the record for an intake)."""
    if what == "hop":
        hop = _to_desk(net, komae)
        url, back = reverse("relay:desk-assign", args=[hop.pk]), reverse("relay:desk")
        action, object_id = AuditAction.HANDOFF_ASSIGNED, str(hop.pk)
    else:
        intake = _intake(komae)
        url = reverse("relay:intake-assign", args=[intake.pk])
        back = reverse("relay:intake-detail", args=[intake.pk])
        action, object_id = AuditAction.INTAKE_ASSIGNED, str(intake.pk)
    client = login(komae.intake)

    def said(response) -> list[str]:
        assert response.redirect_chain == [(back, 302)]
        return [str(m) for m in response.context["messages"]]

    refused = client.post(url, {"assignee": net.counselor.user_id}, follow=True)  # not ours
    assert said(refused) == ["担当者を選び直してください。"]
    assert not AuditEvent.objects.filter(action=action, object_id=object_id).exists()

    done = client.post(url, {"assignee": komae.colleague.user_id}, follow=True)
    assert said(done) == ["担当者を決めました。"]
    assert AuditEvent.objects.filter(action=action, object_id=object_id).count() == 1


def test_intake_to_sheet_prefilled_and_linked(komae: Komae, login: Login) -> None:
    intake = _intake(komae)
    client = login(komae.counselor)
    detail = client.get(reverse("relay:intake-detail", args=[intake.pk])).content.decode()
    assert "me@example.invalid" in detail
    assert AuditEvent.objects.filter(
        action=AuditAction.INTAKE_VIEWED, object_id=str(intake.pk)
    ).exists()
    new = client.get(reverse("relay:sheet-new") + f"?intake={intake.pk}")
    page = new.content.decode()
    assert "ひとりで 家に いる" in page and "狛江市" in page
    form = new.context["form"]
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and not isinstance(value, list | dict)
    }
    data.update(subject_initials="K.M", consulted_on="2026-12-01", urgency="normal")
    response = client.post(reverse("relay:sheet-new") + f"?intake={intake.pk}", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    intake.refresh_from_db()
    assert intake.sheet_id is not None and intake.status == IntakeStatus.SHEET_CREATED
    assert intake.sheet.owner_agency_id == komae.desk.pk


# --- Access: own desk, another agency, another role, anonymous ----------------------------


@pytest.mark.parametrize("who", ["other_agency", "ward_counselor", "anonymous"])
def test_desk_screens_refuse_outsiders(who: str, net: Network, komae: Komae, login: Login) -> None:
    hop = _to_desk(net, komae)
    intake = _intake(komae)
    client = {
        "other_agency": lambda: login(net.npo_supervisor),
        "ward_counselor": lambda: login(net.counselor),
        "anonymous": Client,
    }[who]()
    pages = [
        reverse("relay:desk"),
        reverse("relay:intake-detail", args=[intake.pk]),
        reverse("relay:sheet-new") + f"?intake={intake.pk}",
    ]
    for url in pages:
        response = client.get(url)
        expected = (302,) if who == "anonymous" else (404,)
        assert response.status_code in expected, (who, url, response.status_code)
        assert "me@example.invalid" not in response.content.decode()
    for url, data in [
        (reverse("relay:desk-route", args=[hop.pk]), {"to_agency": net.npo.pk}),
        (reverse("relay:desk-assign", args=[hop.pk]), {"assignee": komae.counselor.user_id}),
        (reverse("relay:desk-return", args=[hop.pk]), {"note": "x"}),
        (reverse("relay:intake-assign", args=[intake.pk]), {"assignee": 1}),
        (reverse("relay:intake-close", args=[intake.pk]), {}),
    ]:
        response = client.post(url, data)
        assert response.status_code in (302, 403, 404), (who, url)
        if who == "anonymous":
            assert "/login/" in response["Location"]
    hop.refresh_from_db()
    intake.refresh_from_db()
    assert hop.status == Status.SENT and not Handoff.objects.filter(parent=hop).exists()
    assert intake.status == IntakeStatus.NEW and intake.assignee_id is None


def test_viewer_at_the_desk_reads_but_does_not_act(net: Network, komae: Komae, login) -> None:
    from agencies.models import Role
    from tests.fixtures import _staff

    viewer = _staff(komae.desk, Role.VIEWER, "komae-viewer")
    hop = _to_desk(net, komae)
    client = login(viewer)
    assert client.get(reverse("relay:desk")).status_code == 200
    # The list, not what a stranger wrote: that may hold anything.
    intake = _intake(komae)
    assert client.get(reverse("relay:intake-detail", args=[intake.pk])).status_code == 403
    response = client.post(reverse("relay:desk-route", args=[hop.pk]), {"to_agency": net.npo.pk})
    assert response.status_code == 403
    assert not Handoff.objects.filter(parent=hop).exists()


def test_consent_naming_the_desk_is_shown_and_printed(
    net: Network, komae: Komae, login: Login
) -> None:
    """The sheet's owner sees the routing scope of the consent, and the form the person signs
    names the desk and the kinds it may choose among."""
    hop = _to_desk(net, komae)
    client = login(net.counselor)
    detail = client.get(reverse("relay:sheet-detail", args=[hop.sheet_id])).content.decode()
    assert 'data-testid="consent-routing"' in detail and komae.desk.name in detail
    printed = client.get(reverse("relay:consent-print", args=[hop.consent_id])).content.decode()
    assert 'data-testid="routing-desk"' in printed
    assert "NPO・フリースクール" in printed and "ひきこもり支援" in printed
