"""Honesty: no edge on a random walk, the planted edge found on a series that has one.

A pipeline that "finds" an edge in a driftless random walk leaks the future. The bounds are
about three standard errors for the sample sizes used (fixed seeds: deterministic).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from marketdata.synthetic import random_walk_bars
from mlops.pipeline import TrainConfig, default_feature_set, train
from mlops.tests.factories import TINY, make_bars

CONFIG = TrainConfig(params={"n_estimators": 60, "max_depth": 5}, walk_forward=4, cost=0.0,
                     importance_repeats=1, n_jobs=1)


def edge_bound(bars: pd.DataFrame, n_trades: int) -> float:
    """Three standard errors of a mean P/L per trade when there is no edge."""
    body = (bars["close"] - bars["open"]).to_numpy()
    return 3 * body.std() / np.sqrt(max(n_trades, 1))


def assert_no_edge(bars: pd.DataFrame, metrics: dict) -> None:
    wf = metrics["walk_forward"]["summary"]
    assert abs(wf["pooled_accuracy"] - 0.5) < 0.03, wf
    assert abs(wf["roc_auc"]["mean"] - 0.5) < 0.03, wf
    if wf["n_trades"]:
        assert abs(wf["pooled_expectancy"]) < edge_bound(bars, wf["n_trades"]), wf
    test = metrics["test"]
    assert abs(test["accuracy"] - 0.5) < 0.05 and abs(test["roc_auc"] - 0.5) < 0.05
    assert_edges_inside_their_intervals(metrics)


def assert_edges_inside_their_intervals(metrics: dict) -> None:
    """Known answer on noise: every reported edge is inside its interval around zero, so the
    model would never be activated automatically."""
    from mlops.gating import oos_edge_check

    oos = metrics["selection"]["oos"]
    if oos["interval"]["low"] is not None:
        assert oos["interval"]["low"] < 0 < oos["interval"]["high"], oos
    assert not oos_edge_check(metrics).ok
    ci = metrics["test"]["gated_accuracy_ci"]
    if ci["n"]:
        assert ci["low"] < 0.5 < ci["high"], ci
    base = metrics["test"]["baseline"]
    assert abs(metrics["test"]["accuracy"] - base["accuracy"]) < 0.05


def test_random_walk_has_no_edge_with_simple_features() -> None:
    bars = random_walk_bars(5000, seed=11)
    assert_no_edge(bars, train(bars, CONFIG, TINY).metrics)


def test_random_walk_has_no_edge_with_the_production_features() -> None:
    bars = random_walk_bars(5000, seed=12)
    assert_no_edge(bars, train(bars, CONFIG, default_feature_set()).metrics)


def test_random_walk_has_no_edge_with_tuned_thresholds_and_triple_barrier() -> None:
    from mlops.labels import LabelSpec

    bars = random_walk_bars(5000, seed=13)
    config = TrainConfig(**{**CONFIG.__dict__, "tune": True, "min_trades": 30,
                            "label": LabelSpec("triple_barrier", max_bars=6)})
    metrics = train(bars, config, TINY).metrics
    wf = metrics["walk_forward"]["summary"]
    assert abs(wf["pooled_accuracy"] - 0.5) < 0.03, wf
    assert_edges_inside_their_intervals(metrics)
    # Overlapping 6-bar labels: far fewer independent observations than rows.
    assert metrics["test"]["effective_n"] < 0.5 * metrics["test"]["n"]
    assert not metrics["threshold_search"]["deflated_sharpe"]["significant"]
    # Triple-barrier P/L per trade is bounded by the barriers; scale by the ATR multiples.
    assert abs(wf["pooled_expectancy"]) < 3 * edge_bound(bars, wf["n_trades"]), wf


def test_planted_causal_signal_is_found() -> None:
    bars = make_bars(5000, seed=14, signal=0.3)  # next body drifts with the current one
    metrics = train(bars, CONFIG, TINY).metrics
    wf = metrics["walk_forward"]["summary"]
    assert wf["pooled_accuracy"] > 0.56, wf  # ~0.62 is the best possible here
    assert wf["roc_auc"]["mean"] > 0.56, wf
    assert wf["pooled_expectancy"] > edge_bound(bars, wf["n_trades"]), wf


def test_planted_signal_interval_excludes_zero_and_would_be_activated() -> None:
    from mlops.gating import oos_edge_check

    bars = make_bars(5000, seed=14, signal=0.3)
    metrics = train(bars, CONFIG, TINY).metrics
    oos = metrics["selection"]["oos"]
    assert oos["interval"]["low"] > 0 and oos["lower_bound"] > 0, oos
    assert oos_edge_check(metrics).ok
    ci = metrics["walk_forward"]["summary"]["pooled_gated_accuracy_ci"]
    assert ci["low"] > 0.5, ci
    assert metrics["test"]["accuracy"] > metrics["test"]["baseline"]["accuracy"]
