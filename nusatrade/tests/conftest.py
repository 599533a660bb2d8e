"""Fixtures for fault tests of the foundation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nusatrade.tests.faults import HungServer


@pytest.fixture
def hung_server() -> Iterator[HungServer]:
    server = HungServer()
    try:
        yield server
    finally:
        server.close()
