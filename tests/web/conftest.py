"""Fixtures for the web UI tests: a logged-in client per person, and the sent hop with its
sheet. The workflow network (`net`), compiled catalogs and plain static files come from
tests/fixtures.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agencies.actors import Staff
from relay.models import Handoff, ReferralSheet
from tests.fixtures import sign_in


@pytest.fixture
def login() -> Callable[[Staff], Client]:
    """A test client signed in as the given staff member (without the login form; with the
    second factor verified for whoever needs one: tests/fixtures.sign_in)."""

    def make(staff: Staff) -> Client:
        # From the database: the factory's in-memory user carries an unsaved password hash,
        # which would invalidate the session on the next request.
        return sign_in(Client(), get_user_model().objects.get(pk=staff.user_id))

    return make


@pytest.fixture
def sent(sent: Handoff) -> tuple[ReferralSheet, Handoff]:
    """The shared `sent` hop (tests/fixtures.py) with its sheet, as (sheet, hop)."""
    return sent.sheet, sent
