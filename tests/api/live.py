"""Demo data for tests against a live server: the demo network, hops in every state, keys."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from agencies.actors import Staff
from agencies.categories import CATEGORIES
from agencies.models import Agency, Category
from api.keys import api_key_create
from api.scopes import ALL_SCOPES
from audit.context import Actor
from notifications.models import WebhookEndpoint
from notifications.signing import new_webhook_secret
from relay import services
from relay.models import Handoff
from tests.fixtures import SHEET_DATA

WARD = "adachi-fukushi-marugoto-soudan"
NPO = "adachi-safety-net-adachi"


@dataclass
class LiveData:
    """What a live-server test needs: the two agencies, a sent hop, keys and a webhook secret."""

    ward: Agency
    npo: Agency
    hop: Handoff
    npo_key: str
    ward_key: str
    webhook_secret: str


def _staff(username: str) -> Staff:
    return Staff.for_user(get_user_model().objects.get(username=username))


def _key(agency: Agency) -> str:
    _obj, plaintext = api_key_create(
        agency=agency,
        name="live test",
        scopes=sorted(ALL_SCOPES),
        expires_at=None,
        created_by=None,
        actor=Actor.system("tests"),
    )
    return plaintext


def _send(supervisor: Staff, npo: Agency, **sheet: Any) -> Handoff:
    created = services.sheet_create(staff=supervisor, data={**SHEET_DATA, **sheet})
    services.consent_record(
        staff=supervisor,
        sheet_id=created.pk,
        grantors=["guardian"],
        method="written",
        recipients=[npo],
        sections=["basic", "consultation", "attendance"],
        purposes=["support"],
        valid_until=timezone.now() + timedelta(days=90),
    )
    draft = services.handoff_create(
        staff=supervisor,
        sheet_id=created.pk,
        to_agency=npo,
        sections=["basic", "consultation"],
        purpose="support",
    )
    return services.handoff_submit(staff=supervisor, handoff_id=draft.pk)


def load_live_data(settings: Any, *, hops: int = 1) -> LiveData:
    """Load the demo network (as `make demo` does) and send `hops` hops from the ward desk to
    the NPO, whose system has a webhook endpoint; issue a key (every scope) to each."""
    settings.TSUNAGU = {**settings.TSUNAGU, "DEMO_ALLOWED": True}
    # A transactional test's teardown flush empties the table its data migration filled.
    for code, label_ja, label_en in CATEGORIES:
        Category.objects.get_or_create(
            code=code, defaults={"label_ja": label_ja, "label_en": label_en}
        )
    call_command("load_demo", stdout=io.StringIO())
    ward, npo = Agency.objects.get(slug=WARD), Agency.objects.get(slug=NPO)
    secret = new_webhook_secret()
    WebhookEndpoint.objects.create(
        agency=npo, url="https://partner.example.invalid/hook", secret=secret
    )
    supervisor = _staff("adachi-supervisor")
    sent = [_send(supervisor, npo) for _ in range(hops)]
    return LiveData(
        ward=ward,
        npo=npo,
        hop=sent[0],
        npo_key=_key(npo),
        ward_key=_key(ward),
        webhook_secret=secret,
    )
