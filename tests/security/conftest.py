"""Fixtures for the security tests: a signed-in client per person (tests/fixtures.sign_in)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from agencies.actors import Staff
from relay.models import Handoff, ReferralSheet
from tests.fixtures import sign_in


@pytest.fixture
def login() -> Callable[[Staff], Client]:
    """A test client signed in as the staff member, second factor verified where needed."""
    return lambda staff: sign_in(Client(), staff.user)


@pytest.fixture
def sent(sent: Handoff) -> tuple[ReferralSheet, Handoff]:
    """The shared `sent` hop (tests/fixtures.py) with its sheet, as (sheet, hop)."""
    return sent.sheet, sent
