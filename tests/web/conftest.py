"""Fixtures for the web UI tests: the workflow tests' network, and a logged-in client per person."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils.translation import trans_real as translation

from agencies.actors import Staff
from tests.relay.conftest import SHEET_DATA, Network, net  # re-exported: `net` is a fixture

__all__ = ["SHEET_DATA", "Network", "net"]


LOCALE = Path(settings.BASE_DIR) / "locale"


def ensure_compiled_messages() -> None:
    """Compile the gettext catalogs if a .mo is missing or older than its .po (as `make
    messages` does), so running pytest directly tests the English UI too."""
    for po in LOCALE.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            call_command(
                "compilemessages", locale=["en"], ignore_patterns=[".venv", "var"], verbosity=0
            )
            translation._translations = {}  # type: ignore[attr-defined]
            return


@pytest.fixture(scope="session", autouse=True)
def _compiled_messages() -> None:
    ensure_compiled_messages()


def plain_static_storage(settings) -> None:
    """Outside embedded mode static files use the manifest storage, which needs collectstatic;
    tests render pages without collecting (the live server serves static files from the apps)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _plain_static_storage(settings) -> None:
    plain_static_storage(settings)


@pytest.fixture
def login() -> Callable[[Staff], Client]:
    """A test client signed in as the given staff member (without the login form)."""

    def make(staff: Staff) -> Client:
        client = Client()
        # From the database: the factory's in-memory user carries an unsaved password hash,
        # which would invalidate the session on the next request.
        client.force_login(get_user_model().objects.get(pk=staff.user_id))
        return client

    return make


@pytest.fixture
def sent(net: Network):
    """A sheet with consent for the NPO (basic, consultation, attendance), sent to the NPO with
    basic and consultation only."""
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    return sheet, hop
