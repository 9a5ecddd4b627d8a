"""Fixtures for the operations tests: the relay network of tests/relay."""

from __future__ import annotations

import pytest

from tests.relay.conftest import Network, build_network


@pytest.fixture
def net(db) -> Network:
    """A ward desk and three receiving agencies, with staff (tests/relay/conftest.py)."""
    return build_network()


@pytest.fixture
def net_tx(transactional_db) -> Network:
    """The same network, committed, for tests that start other processes."""
    return build_network()
