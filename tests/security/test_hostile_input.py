"""The same hostile payloads through every write path (importer files, the management
command, the admin, the partner API, the web forms, the services, the model itself): links
that are not http(s) are refused everywhere, control characters and over-long text too, and
markup that is stored is rendered escaped. Nothing is changed by a refused write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from agencies.errors import InvalidInput
from agencies.models import Agency
from api.keys import api_key_create
from api.scopes import ALL_SCOPES
from notifications import services as webhooks
from notifications.models import WebhookEndpoint
from relay.models import ReferralSheet
from tests.factories import AgencyFactory
from tests.fixtures import sign_in

BAD_URLS = [
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://example.org/x",
    "https://example.org/\x00",
    "https://example.org/" + "a" * 600,
]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
BAD_TEXT = ["名前\x00", "名前\x07", "x" * 5000]


def _csv(tmp_path: Path, website: str = "", name: str = "テスト機関") -> Path:
    path = tmp_path / "dir.json"
    path.write_text(
        json.dumps(
            [
                {
                    "organization_id": "hostile",
                    "organization": name,
                    "organization_type": "ward_desk",
                    "city": "足立区",
                    "website": website,
                }
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return path


@pytest.mark.django_db
@pytest.mark.parametrize("url", BAD_URLS)
def test_every_path_refuses_a_bad_link(tmp_path: Path, url: str, system_actor) -> None:
    before = Agency.objects.count()
    # 1. The importer command (JSON here; CSV and xlsx share the validation).
    with pytest.raises(CommandError):
        call_command("import_agencies", _csv(tmp_path, website=url), verbosity=0)
    assert Agency.objects.count() == before
    # 2. The model itself (what forms, the admin and serializers call).
    agency = AgencyFactory.build(slug="m", website=url)
    with pytest.raises(ValidationError) as refused:
        agency.full_clean(exclude=["group"])
    assert "website" in refused.value.message_dict
    # 3. The admin's add form.
    admin_user = get_user_model().objects.create_user(
        "ops", password="pw-for-tests-only", is_staff=True, is_superuser=True
    )
    client = sign_in(Client(), admin_user)
    response = client.post(
        reverse("admin:agencies_agency_add"),
        {
            "slug": "via-admin",
            "name": "管理画面から",
            "kind": "ward_desk",
            "municipality": "足立区",
            "website": url,
            "ack_sla_hours": 16,
            "closed_days": "[]",
            "escalation_policy": "{}",
            "two_factor_policy": "optional",
            "services-TOTAL_FORMS": "0",
            "services-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200 and not Agency.objects.filter(slug="via-admin").exists()
    # 4. The webhook service and the partner API (a URL the API stores and calls).
    owner = AgencyFactory(slug="partner")
    _key, plaintext = api_key_create(
        agency=owner,
        name="p",
        scopes=tuple(ALL_SCOPES),
        expires_at=None,
        created_by=None,
        actor=system_actor,
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    answer = api.put("/api/v1/webhook/", {"url": url}, format="json")
    assert answer.status_code == 400, answer.content
    problem = answer.json()
    assert answer["Content-Type"].startswith("application/problem+json")
    assert "url" in json.dumps(problem)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("text", BAD_TEXT)
def test_every_path_refuses_control_characters_and_overlong_text(tmp_path, text, net) -> None:
    with pytest.raises(CommandError):
        call_command("import_agencies", _csv(tmp_path, name=text), verbosity=0)
    assert not Agency.objects.filter(slug="hostile").exists()
    with pytest.raises(InvalidInput):
        net.sheet(consultation=text if len(text) < 100 else "ok", school_name=text)
    response = sign_in(Client(), net.counselor.user).post(
        reverse("relay:sheet-new"),
        {
            "subject_initials": "A.T",
            "consulted_on": "2026-11-20",
            "consulter": "guardian",
            "consultation": "相談",
            "school_name": text,
            "urgency": "normal",
        },
    )
    assert response.status_code == 400
    assert ReferralSheet.objects.count() == 0


@pytest.mark.django_db
def test_markup_that_is_stored_is_rendered_escaped_everywhere(tmp_path, net, sent) -> None:
    """Markup in a name or a note is just text: stored as typed, shown escaped."""
    call_command(
        "import_agencies", _csv(tmp_path, website="https://example.org/", name=XSS), verbosity=0
    )
    agency = Agency.objects.get(slug="hostile")
    client = sign_in(Client(), net.counselor.user)
    for path in ["/directory/", f"/directory/{agency.slug}/"]:
        body = client.get(path).content.decode()
        assert XSS not in body and "&lt;script&gt;" in body, path
    sheet = net.sheet(consultation=XSS, mental_condition=XSS)
    body = client.get(reverse("relay:sheet-detail", args=[sheet.pk])).content.decode()
    assert XSS not in body and "&lt;script&gt;alert" in body
    detail = client.get(f"/api/v1/agencies/{agency.slug}/")
    assert detail.status_code == 200 and detail.json()["name"] == XSS  # JSON, not HTML


@pytest.mark.django_db
def test_the_webhook_service_refuses_bad_links_whoever_calls(net) -> None:
    for url in BAD_URLS:
        with pytest.raises(InvalidInput) as refused:
            webhooks.webhook_configure(staff=net.npo_supervisor, url=url)
        assert refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()
