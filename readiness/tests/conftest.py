"""A small stored world for readiness runs: synthetic XAUUSD H1 Jan-Apr 2024, a small random
forest trained on Jan-Feb (``trading.tests.cyclekit``) with the tiny test feature set standing
in for the production one (monkeypatched lookup, as the replay parity test does)."""

from __future__ import annotations

import pytest

from trading.tests import cyclekit


@pytest.fixture
def tiny_features(monkeypatch):
    from mlops import pipeline

    production = pipeline.feature_set_for_id
    monkeypatch.setattr(pipeline, "feature_set_for_id", lambda fid: cyclekit.FEATURES
                        if fid == cyclekit.FEATURES.id else production(fid))


@pytest.fixture
def world(db, settings, tmp_path, tiny_features):
    """(model) active for XAUUSD H1, bars to 2024-04-10: held out 2024-03-01..2024-04-10."""
    settings.REPORTS_DIR = tmp_path / "reports"
    cyclekit.fresh_estimators(settings, tmp_path)
    cyclekit.store_bars(end="2024-04-10")
    return cyclekit.active_model()
