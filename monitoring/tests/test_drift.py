"""PSI on hand-worked and constructed shifts (no database)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from monitoring import drift


def test_identical_samples_have_zero_psi() -> None:
    ref = np.arange(100, dtype=float)
    assert drift.psi(ref, ref) == pytest.approx(0.0)


def test_psi_of_a_hand_worked_shift() -> None:
    ref = np.arange(100, dtype=float)  # deciles: ten bins of 10 % each
    live = np.arange(50, dtype=float)  # all in the lower five bins: 20 % each, 0 (-> eps) above
    hand = (5 * (0.2 - 0.1) * math.log(0.2 / 0.1)
            + 5 * (drift.EPSILON - 0.1) * math.log(drift.EPSILON / 0.1))
    assert drift.psi(ref, live) == pytest.approx(hand)


def test_too_few_values_give_no_index() -> None:
    assert drift.psi(np.arange(100.0), np.arange(10.0)) is None
    assert drift.psi(np.ones(100), np.ones(100)) is None  # a constant reference has no bins


def test_constructed_shift_is_flagged_and_noise_is_not() -> None:
    rng = np.random.default_rng(42)
    reference = pd.DataFrame({"rsi": rng.normal(50, 10, 5000), "atr": rng.normal(2, 0.5, 5000),
                              "ret": rng.normal(0, 1, 5000)})
    live = pd.DataFrame({"rsi": rng.normal(50, 10, 500),         # same distribution
                         "atr": rng.normal(3, 0.5, 500),          # volatility regime shift
                         "ret": rng.normal(0, 1, 500)})
    out = drift.feature_drift(reference, live, ["rsi", "atr", "ret", "missing"], limit=0.2)
    assert out["psi"]["rsi"] < 0.1 and out["psi"]["ret"] < 0.1
    assert out["psi"]["atr"] > 1.0
    assert out["drifting"] == ["atr"] and out["measured"] == 3
    assert out["share_drifting"] == pytest.approx(1 / 3)
    assert out["psi"]["missing"] is None


def test_prediction_drift_compares_probability_distributions() -> None:
    rng = np.random.default_rng(1)
    test_window = rng.beta(5, 5, 2000)
    assert drift.prediction_drift(test_window, rng.beta(5, 5, 300))["drifting"] is False
    shifted = drift.prediction_drift(test_window, rng.beta(8, 3, 300))
    assert shifted["drifting"] is True and shifted["live_mean"] > shifted["reference_mean"]
