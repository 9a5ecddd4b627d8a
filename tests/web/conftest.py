"""Fixtures for the web UI tests: the workflow tests' network, and a logged-in client per person."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from relay.actors import Staff
from tests.relay.conftest import SHEET_DATA, Network, net  # re-exported: `net` is a fixture

__all__ = ["SHEET_DATA", "Network", "net"]


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
