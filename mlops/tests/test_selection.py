"""Selection that does not grade its own homework: baselines and intervals per window, fold
summaries weighted by size, the cost from the training window only, the optimism of the
tuned threshold, the model chosen on out-of-sample results, and the automatic-activation rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops import gating, pipeline
from mlops.evaluation import evaluate
from mlops.models import MLModel
from mlops.pipeline import TrainConfig, summarize_folds, train
from mlops.services.demo import pick_best
from mlops.tests.factories import TINY, make_bars

FAST = TrainConfig(params={"n_estimators": 20, "max_depth": 3}, walk_forward=2, tune=True,
                   min_trades=10, importance_repeats=1, n_jobs=1)


def test_every_window_reports_its_baselines_and_intervals() -> None:
    rng = np.random.default_rng(0)
    y = np.where(rng.random(2000) < 0.6, 1.0, -1.0)
    p = np.clip(0.5 + 0.1 * y + rng.normal(0, 0.1, 2000), 0, 1)
    long = rng.normal(0, 1, 2000)
    m = evaluate(y, p, long, -long, 0.55, 0.1, horizon=4)
    assert m["baseline"]["accuracy"] == pytest.approx((y == 1).mean())
    assert m["baseline"]["roc_auc"] == 0.5 and m["baseline"]["brier"] > 0
    ci = m["gated_accuracy_ci"]
    assert ci["low"] < m["gated_accuracy"] < ci["high"]
    assert set(m["trades"]["intervals"]) == {"win_rate", "profit_factor", "expectancy",
                                             "sharpe"}
    assert m["trades"]["intervals"]["expectancy"]["block"] >= 4  # at least the horizon
    assert m["effective_n"] == pytest.approx(2000 / 4, rel=0.01)  # 4-bar labels overlap


def test_walk_forward_summaries_are_weighted_by_fold_size() -> None:
    fold = {"roc_auc": None, "log_loss": 0.69, "brier": 0.25, "coverage": 0.1,
            "gated_accuracy": None, "total": 0.0, "gated_hits": 0, "gated_n": 0}
    folds = [{**fold, "accuracy": 0.60, "n_labelled": 100, "expectancy": 1.0, "n_trades": 10},
             {**fold, "accuracy": 0.50, "n_labelled": 900, "expectancy": -1.0, "n_trades": 90}]
    summary = summarize_folds(folds)
    assert summary["accuracy"]["weighted"] == pytest.approx(0.51)
    assert summary["accuracy"]["mean"] == pytest.approx(0.55)
    assert summary["expectancy"]["weighted"] == pytest.approx(-0.8)


def test_default_cost_comes_from_the_training_window_only() -> None:
    bars = make_bars(3000, seed=5)
    cost = pd.Series(np.where(np.arange(len(bars)) < 0.45 * len(bars), 0.1, 0.2),
                     index=bars.index)
    result = train(bars, FAST, TINY, cost_per_bar=cost)
    # The first 80% of bars: mostly 0.1 (the whole period's median is 0.2).
    assert result.config.cost == pytest.approx(0.1)
    assert result.metrics["cost"]["value"] == pytest.approx(0.1)
    assert "training window" in result.metrics["cost"]["source"]
    folds = result.metrics["walk_forward"]["folds"]
    assert all(f["cost"] in (pytest.approx(0.1), pytest.approx(0.2)) for f in folds)


def test_selection_reports_out_of_sample_figures_and_the_tunings_optimism() -> None:
    metrics = train(make_bars(3000, seed=6), FAST, TINY).metrics
    sel = metrics["selection"]
    assert sel["oos"]["expectancy"] == metrics["walk_forward"]["summary"]["pooled_expectancy"]
    assert sel["optimism"] == pytest.approx(sel["validation_expectancy"]
                                            - sel["oos"]["expectancy"])
    assert sel["oos"]["lower_bound"] <= sel["oos"]["expectancy"]
    search = metrics["threshold_search"]
    assert search["trials"] == len(gating.THRESHOLD_GRID)
    assert 0 <= search["deflated_sharpe"]["probability"] <= 1
    assert search["pbo"]["pbo"] is None or 0 <= search["pbo"]["pbo"] <= 1


def test_without_walk_forward_the_test_window_is_the_out_of_sample_figure() -> None:
    config = TrainConfig(**{**FAST.__dict__, "walk_forward": 0})
    metrics = train(make_bars(3000, seed=6), config, TINY).metrics
    assert metrics["selection"]["oos"]["source"].startswith("test window")
    assert metrics["selection"]["oos"]["expectancy"] == metrics["test"]["trades"]["expectancy"]


def fake(pk: int, validation: float, oos: float) -> MLModel:
    return MLModel(pk=pk, metrics={"validation": {"trades": {"expectancy": validation},
                                                  "log_loss": 0.69},
                                   "selection": {"oos": {"expectancy": oos}}})


def test_the_model_is_chosen_on_out_of_sample_results_not_on_its_tuned_validation() -> None:
    lucky = fake(1, validation=0.30, oos=-0.20)   # maximised its own validation window
    steady = fake(2, validation=0.05, oos=0.01)
    assert pick_best([lucky, steady]) is steady


@pytest.mark.parametrize(("oos", "ok"), [
    ({"lower_bound": 0.02, "confidence": 0.95}, True),
    ({"lower_bound": -0.01, "confidence": 0.95}, False),
    ({"lower_bound": 0.02, "confidence": 0.90}, False),  # computed at a lower confidence
    ({"lower_bound": None, "confidence": 0.95}, False),
    (None, False),                                       # trained before the figures existed
])
def test_oos_edge_rule(oos: dict | None, ok: bool) -> None:
    metrics = {"selection": {"oos": oos}} if oos is not None else {}
    verdict = gating.oos_edge_check(metrics, 0.95)
    assert verdict.ok is ok and verdict.reason


def test_oos_net_is_the_traded_rows_net_pnl() -> None:
    decisions = np.array([1, 0, -1, 1])
    net = gating.trade_pnl(decisions, np.array([1.0, 2.0, 3.0, -1.0]),
                           np.array([-1.0, -2.0, -3.0, 1.0]), 0.5)
    assert net.tolist() == [0.5, -3.5, -1.5]
    assert callable(pipeline.oos_net)
