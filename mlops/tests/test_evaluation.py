"""Metrics and permutation importance."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from mlops.evaluation import evaluate, permutation_importances, select_features


def test_evaluate_reports_classification_gating_and_trades() -> None:
    y = np.array([1, 1, -1, -1, np.nan])
    p_up = np.array([0.9, 0.55, 0.3, 0.65, 0.8])
    pnl_long = np.array([1.0, 1.0, -1.0, -1.0, -0.5])
    m = evaluate(y, p_up, pnl_long, -pnl_long, threshold=0.6, cost=0.1)
    assert m["n"] == 4 and m["n_rows"] == 5
    assert m["accuracy"] == pytest.approx(0.75)  # row 3 (p 0.65, went down) is wrong
    # gate at 0.6: BUY, HOLD, SELL, BUY, BUY -> 4 of 5 rows traded
    assert m["coverage"] == pytest.approx(0.8)
    assert m["gated_accuracy"] == pytest.approx(2 / 3)  # labelled traded rows: 0, 2, 3
    assert m["confusion_matrix"]["counts"] == [[1, 0, 1], [0, 1, 1]]
    # trades: +1, +1 (short a -1 move), -1, -0.5 (unlabelled row still costs) - 0.1 each
    assert m["trades"]["n_trades"] == 4
    assert m["trades"]["expectancy"] == pytest.approx((1 + 1 - 1 - 0.5) / 4 - 0.1)
    assert m["class_balance"] == {"up": 2, "down": 2, "share_up": 0.5}
    assert 0 < m["roc_auc"] <= 1 and m["log_loss"] > 0 and 0 < m["brier"] < 1


def test_feature_selection_keeps_the_informative_feature_and_drops_noise() -> None:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3000, 5))
    y = np.where(X[:, 2] + 0.5 * rng.normal(size=3000) > 0, 1, -1)
    model = RandomForestClassifier(50, max_depth=5, random_state=0).fit(X[:2000], y[:2000])
    names = ["n0", "n1", "signal", "n3", "n4"]
    importances = permutation_importances(model, X[2000:], y[2000:], names, n_repeats=5)
    assert importances[0].feature == "signal" and importances[0].above_noise
    kept, dropped = select_features(importances)
    assert "signal" in kept
    assert len(dropped) >= 3
