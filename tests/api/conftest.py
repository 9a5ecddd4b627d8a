"""Fixtures for the API tests: agencies with keys, clients, and a clean rate-limit cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from agencies.models import Agency
from api.keys import api_key_create
from api.models import APIKey
from api.scopes import ALL_SCOPES
from audit.context import Actor
from relay.models import Handoff
from tests.factories import AgencyFactory
from tests.relay.conftest import Network, build_network

IssueKey = Callable[..., tuple[APIKey, str]]


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db: None) -> Iterator[None]:
    """Rate-limit counters live in the shared cache; ids repeat across tests, counters must not."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _plain_static_files(settings: Any) -> None:
    """Outside embedded mode static files use a manifest that only collectstatic writes; the
    admin and the docs page render {% static %}, so tests use the plain storage."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def agency() -> Agency:
    """A partner agency (an NPO free school) whose system calls the API."""
    return AgencyFactory(slug="free-school-hikari", name="フリースクールひかり")


@pytest.fixture
def issue_key(agency: Agency, system_actor: Actor) -> IssueKey:
    """Issue a key (for `agency` unless told otherwise); returns (APIKey, plaintext)."""

    def issue(
        *,
        scopes: tuple[str, ...] = ("handoffs:read",),
        for_agency: Agency | None = None,
        expires_at: datetime | None = None,
        name: str = "partner system",
    ) -> tuple[APIKey, str]:
        return api_key_create(
            agency=for_agency or agency,
            name=name,
            scopes=scopes,
            expires_at=expires_at,
            created_by=None,
            actor=system_actor,
        )

    return issue


@pytest.fixture
def api_client() -> APIClient:
    """A DRF test client with no credentials."""
    return APIClient()


@pytest.fixture
def net(db: None) -> Network:
    """The workflow tests' network: a ward desk that refers, an NPO and two other receivers."""
    return build_network()


MakeKey = Callable[..., str]


@pytest.fixture
def key_for(system_actor: Actor) -> MakeKey:
    """Issue a key for an agency (every scope unless told otherwise); returns the plaintext."""

    def make(agency: Agency, *scopes: str) -> str:
        _key, plaintext = api_key_create(
            agency=agency,
            name=f"{agency.slug} system",
            scopes=scopes or sorted(ALL_SCOPES),
            expires_at=None,
            created_by=None,
            actor=system_actor,
        )
        return plaintext

    return make


@pytest.fixture
def sent(net: Network) -> Handoff:
    """A hop from the ward desk to the NPO, sent under consent, sharing basic + consultation."""
    sheet = net.sheet()
    net.consent(sheet)
    return net.send(sheet)
