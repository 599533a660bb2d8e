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


def build_world(settings, tmp_path):
    """The model, active for XAUUSD H1; bars from 2024-01-01 to 2024-04-09 (the last stored
    day): held out from 2024-03-01."""
    settings.REPORTS_DIR = tmp_path / "reports"
    cyclekit.fresh_estimators(settings, tmp_path)
    cyclekit.store_bars(end="2024-04-10")
    return cyclekit.active_model()


@pytest.fixture
def world(db, settings, tmp_path, tiny_features):
    return build_world(settings, tmp_path)


@pytest.fixture
def worker_world(transactional_db, settings, tmp_path, tiny_features):
    return build_world(settings, tmp_path)
