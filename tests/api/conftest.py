"""Fixtures for the API tests: agencies with keys, clients, and a clean rate-limit cache. The
workflow network (`net`), the `sent` hop and plain static files come from tests/fixtures.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from agencies.models import Agency
from api.keys import api_key_create
from api.models import APIKey
from api.scopes import ALL_SCOPES
from audit.context import Actor
from tests.factories import AgencyFactory

IssueKey = Callable[..., tuple[APIKey, str]]


@pytest.fixture(autouse=True)
def _public_api_docs(settings) -> None:
    """The schema tests and the schemathesis/generated-client runs read /api/schema/ without
    credentials, as the embedded default allows; tests/security/ checks the closed default
    of production (API_DOCS_PUBLIC unset outside embedded mode)."""
    settings.API_DOCS_PUBLIC = True


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db: None) -> Iterator[None]:
    """Rate-limit counters live in the shared cache; ids repeat across tests, counters must not."""
    cache.clear()
    yield
    cache.clear()


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
