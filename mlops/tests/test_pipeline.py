"""The training pipeline: chronological windows, tuning blind to the test window,
reproducibility, feature selection, calibration and the metrics it records."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV

from mlops.labels import LabelSpec
from mlops.pipeline import FeatureSet, TrainConfig, build_dataset, predict_frame, train
from mlops.tests.factories import TINY, make_bars, tiny_features

FAST = {"n_estimators": 30, "max_depth": 4}
BASE = TrainConfig(params=FAST, importance_repeats=2, min_trades=20, n_jobs=1)


def config(**changes: object) -> TrainConfig:
    return TrainConfig(**{**BASE.__dict__, **changes})


def test_fit_validation_and_test_windows_are_in_time_order_with_purged_gaps() -> None:
    bars = make_bars(2000, seed=1, signal=0.2)
    result = train(bars, config(), TINY)
    fit, val = result.model.fit_rows, result.model.val_rows
    horizon_plus_embargo = 2  # next_bar: horizon 1, default embargo 1
    assert fit.max() + horizon_plus_embargo < val.min()
    r = result.metrics["ranges"]
    assert r["fit"]["end"] < r["validation"]["start"] < r["test"]["start"]
    assert r["gap_bars"] == horizon_plus_embargo
    assert np.all(np.diff(fit) > 0) and np.all(np.diff(val) > 0)


def test_triple_barrier_gap_covers_its_time_limit() -> None:
    bars = make_bars(2000, seed=1, signal=0.2)
    spec = LabelSpec("triple_barrier", max_bars=12)
    result = train(bars, config(label=spec), TINY)
    assert result.metrics["ranges"]["gap_bars"] == 24  # horizon 12 + embargo 12


def replace_future(bars: pd.DataFrame, start: int, seed: int) -> pd.DataFrame:
    """The same bars up to ``start``, a different random future after it."""
    other = make_bars(len(bars), seed=seed)
    body = (other["close"] - other["open"]).to_numpy()[start:]
    out = bars.copy()
    close = bars["close"].iloc[start - 1] + np.cumsum(body)
    out.iloc[start:, out.columns.get_loc("close")] = close
    out.iloc[start:, out.columns.get_loc("open")] = close - body
    out["high"] = np.maximum(out["high"], out[["open", "close"]].max(axis=1))
    out["low"] = np.minimum(out["low"], out[["open", "close"]].min(axis=1))
    return out


def test_threshold_tuning_never_sees_the_test_window() -> None:
    bars = make_bars(2500, seed=2, signal=0.3)
    changed = replace_future(bars, start=2100, seed=99)  # inside the last 20% (the test)
    a = train(bars, config(tune=True), TINY)
    b = train(changed, config(tune=True), TINY)
    assert a.metrics["tuning"] == b.metrics["tuning"]  # same table, same choice
    assert a.model.threshold == b.model.threshold
    assert a.metrics["test"]["accuracy"] != b.metrics["test"]["accuracy"]  # test did change


def test_training_is_reproducible_from_the_seed() -> None:
    bars = make_bars(1500, seed=3, signal=0.2)
    a = train(bars, config(algorithm="ensemble", params={"rf": FAST, "gb": {"max_iter": 20}},
                           walk_forward=2), TINY)
    b = train(bars, config(algorithm="ensemble", params={"rf": FAST, "gb": {"max_iter": 20}},
                           walk_forward=2), TINY)
    a.metrics.pop("timing"), b.metrics.pop("timing")
    assert a.metrics == b.metrics


def noisy_features(bars: pd.DataFrame) -> pd.DataFrame:
    out = tiny_features(bars)
    rng = np.random.default_rng(0)
    for i in range(5):
        out[f"noise_{i}"] = rng.normal(size=len(bars))
    return out


def test_feature_selection_drops_noise_and_records_it_on_the_model() -> None:
    bars = make_bars(3000, seed=4, signal=0.4)
    result = train(bars, config(select_features=True, importance_repeats=5),
                   FeatureSet("noisy", noisy_features))
    selection = result.metrics["feature_selection"]
    assert selection["enabled"] and "body" in result.model.feature_names
    dropped = set(selection["dropped"])
    assert len(dropped & {f"noise_{i}" for i in range(5)}) >= 4
    assert not dropped & set(result.model.feature_names)
    assert selection["kept"] == len(result.model.feature_names)


def test_calibrated_model_is_calibrated_on_the_validation_window() -> None:
    bars = make_bars(2000, seed=5, signal=0.3)
    result = train(bars, config(calibrate=True), TINY)
    assert isinstance(result.model.estimator, CalibratedClassifierCV)
    assert 0.5 < result.metrics["test"]["roc_auc"] < 1


def test_metrics_hold_everything_the_registry_promises() -> None:
    bars = make_bars(2000, seed=6, signal=0.2)
    m = train(bars, config(walk_forward=3), TINY).metrics
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier",
                "coverage", "gated_accuracy", "confusion_matrix", "class_balance", "trades"):
        assert key in m["test"], key
    assert len(m["walk_forward"]["folds"]) == 3
    assert m["importances"] and {"feature", "mean", "std"} <= set(m["importances"][0])
    assert m["rows"]["test"] > 0 and m["ranges"]["test"]["start"]
    assert len(m["validation"]["threshold_table"]) == 26


def test_walk_forward_test_windows_follow_each_other_after_their_training() -> None:
    bars = make_bars(2000, seed=7, signal=0.2)
    folds = train(bars, config(walk_forward=3), TINY).metrics["walk_forward"]["folds"]
    for before, after in itertools.pairwise(folds):
        assert before["test_end"] < after["test_start"]
    assert all(f["train_end"] < f["test_start"] for f in folds)


def test_predict_frame_holds_on_rows_without_valid_features() -> None:
    bars = make_bars(800, seed=8, signal=0.3)
    result = train(bars, config(), TINY)
    features = tiny_features(bars)
    frame = predict_frame(result.model.estimator, result.model.feature_names, features, 0.5,
                          TINY)
    assert frame["decision"].iloc[:19].eq(0).all() and frame["proba_up"].iloc[:19].isna().all()
    assert frame["proba_up"].iloc[19:].between(0, 1).all()
    assert set(frame["decision"].iloc[19:].unique()) <= {-1, 0, 1}


def test_dataset_keeps_unlabelled_bars_for_costing_but_not_for_training() -> None:
    bars = make_bars(300, seed=9)
    bars.iloc[100, bars.columns.get_loc("close")] = bars["open"].iloc[100]  # zero-return bar
    ds = build_dataset(bars, TINY, LabelSpec())
    row = 99 - 19  # decision bar 99 (whose next bar is 100), dataset starts after warm-up
    assert np.isnan(ds.label[row]) and not ds.usable[row] and ds.tradable[row]


def test_too_few_rows_of_one_class_is_a_data_error() -> None:
    from nusatrade.errors import DataError

    bars = make_bars(400, seed=10)
    up = bars.copy()
    up["close"] = up["open"] + 1.0 + np.random.default_rng(0).uniform(0, 0.5, len(up))
    up["high"] = up[["open", "close"]].max(axis=1) + 0.1
    with pytest.raises(DataError, match="one class"):
        train(up, config(), TINY)
