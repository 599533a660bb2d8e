"""A registered model's probabilities over a range: same as full history, causal, gated by
the live HOLD gate, refused when the model file or the feature set changed."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from backtests.signals import ModelSignals, feature_set_for, model_probabilities
from backtests.tests.test_services import PERIOD, sample_bars
from mlops import pipeline
from mlops.artifacts import ArtifactIntegrityError
from mlops.gating import gate
from mlops.services import clear_estimator_cache, model_estimator
from mlops.tests.factories import TINY
from nusatrade.errors import ConfigurationError, DataError


def full_history_proba(model) -> np.ndarray:
    """P(up) computed with every stored bar as history (the reference)."""
    bars = sample_bars()
    feature_set = pipeline.default_feature_set()
    frame = pipeline.predict_frame(model_estimator(model), model.feature_names,
                                   feature_set.compute(bars), model.threshold, feature_set)
    return frame.loc["2021-09-01":"2021-12-31", "proba_up"].to_numpy()


def test_probabilities_cover_the_period_and_equal_full_history(model):
    signals = model_probabilities(model, *PERIOD)
    expected = sample_bars().loc["2021-09-01":"2021-12-31"].index
    assert signals.bars.index.equals(expected)
    assert signals.bars_without_prediction == 0  # 3,000 bars of history were enough
    np.testing.assert_allclose(signals.proba_up, full_history_proba(model), rtol=1e-9)
    assert signals.synthetic is True


def test_later_bars_do_not_change_earlier_probabilities(model):
    short = model_probabilities(model, date(2021, 9, 1), date(2021, 10, 15))
    long = model_probabilities(model, date(2021, 9, 1), date(2021, 12, 31))
    n = len(short.bars)
    assert long.bars.index[:n].equals(short.bars.index)
    np.testing.assert_array_equal(long.proba_up[:n], short.proba_up)


def test_decisions_are_the_live_hold_gate(model):
    signals = model_probabilities(model, *PERIOD)
    for threshold in (0.5, 0.55, 0.7):
        decisions, confidence = signals.decisions(threshold)
        np.testing.assert_array_equal(decisions, gate(signals.proba_up, threshold))
        np.testing.assert_allclose(confidence,
                                   np.maximum(signals.proba_up, 1 - signals.proba_up))
    assert (signals.decisions()[0] == gate(signals.proba_up, model.threshold)).all()


def test_bars_without_features_are_hold():
    signals = ModelSignals(bars=sample_bars().iloc[:4], threshold=0.5,
                           proba_up=np.array([np.nan, 0.9, 0.1, 0.5]))
    decisions, confidence = signals.decisions()
    assert decisions.tolist() == [0, 1, -1, 0]
    assert np.isnan(confidence[0]) and confidence[1] == pytest.approx(0.9)
    assert signals.bars_without_prediction == 1


def test_a_period_without_bars_is_a_data_error(model):
    with pytest.raises(DataError, match="no XAUUSD H1 bars are stored from 2024-01-01"):
        model_probabilities(model, date(2024, 1, 1), date(2024, 2, 1))


def test_a_model_trained_on_other_features_is_refused(model):
    with pytest.raises(ConfigurationError, match="retrain it"):
        feature_set_for(model, TINY)
    with pytest.raises(ConfigurationError):
        model_probabilities(model, *PERIOD, feature_set=TINY)


def test_a_changed_model_file_is_never_loaded(model, settings):
    clear_estimator_cache()
    path = settings.ARTIFACTS_DIR / model.artifact_path
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ArtifactIntegrityError, match="REFUSING TO LOAD"):
        model_probabilities(model, *PERIOD)
