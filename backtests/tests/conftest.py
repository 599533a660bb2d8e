"""Fixtures shared by the backtests app's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def model(db, settings, tmp_path):
    """A registered, verified model trained on stored synthetic bars (see test_services)."""
    from backtests.tests.test_services import registered_model

    return registered_model(settings, tmp_path)
