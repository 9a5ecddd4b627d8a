"""Fixtures for the operations tests: the shared network (tests/fixtures.py), committed."""

from __future__ import annotations

import pytest

from tests.fixtures import Network, build_network


@pytest.fixture
def net_tx(transactional_db) -> Network:
    """The same network, committed, for tests that start other processes."""
    return build_network()
