"""The look-ahead check catches and names a leaky feature; a causal pipeline is clean."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.lookahead import check_lookahead, select_bars
from mlops.pipeline import TrainConfig, predict_frame, train
from mlops.tests.factories import LEAKY, TINY, make_bars, tiny_features


def decider(result, feature_set):  # type: ignore[no-untyped-def]
    model = result.model

    def decide(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        frame = predict_frame(model.estimator, model.feature_names, features, model.threshold,
                              feature_set)
        return frame["proba_up"].to_numpy(), frame["decision"].to_numpy()

    return decide


CONFIG = TrainConfig(params={"n_estimators": 30, "max_depth": 4}, threshold=0.55,
                     importance_repeats=1, n_jobs=1)


def test_causal_features_and_decisions_are_clean() -> None:
    bars = make_bars(1500, seed=4, signal=0.3)
    result = train(bars, CONFIG, TINY)
    decide = decider(result, TINY)
    positions = [100, 400, 900, 1499]
    report = check_lookahead(bars, tiny_features, positions, decide, n_random=4)
    assert report.clean
    assert len(report.checked) == 4
    assert "VERDICT: CLEAN" in report.render()


def test_a_leaky_feature_is_caught_and_named_with_its_bars() -> None:
    bars = make_bars(1500, seed=4, signal=0.0)
    result = train(bars, CONFIG, LEAKY)  # learns to read tomorrow's bar: 'perfect' model
    assert result.metrics["test"]["accuracy"] > 0.9  # the symptom a leak produces
    decide = decider(result, LEAKY)
    positions = list(range(1000, 1400, 10))
    report = check_lookahead(bars, LEAKY.compute, positions, decide, n_random=len(positions))
    assert not report.clean
    changed = report.changed_features()
    assert [name for name, *_ in changed] == ["next_body_LEAK"]
    _name, n_bars, size, first = changed[0]
    assert n_bars == len(positions) and np.isinf(size)  # NaN once the future is cut off
    assert first[0] == bars.index[1000]
    assert report.decision_changes  # and the model's decisions change with it
    text = report.render()
    assert "VERDICT: LOOK-AHEAD FOUND" in text and "next_body_LEAK" in text
    assert bars.index[1000].strftime("%Y-%m-%d %H:%M") in text


def test_a_subtle_leak_of_a_later_value_is_reported_with_its_size() -> None:
    bars = make_bars(600, seed=5)

    def centred_mean(b: pd.DataFrame) -> pd.DataFrame:  # a centred window reads 2 bars ahead
        return pd.DataFrame({"centred_ma": b["close"].rolling(5, center=True).mean()})

    report = check_lookahead(bars, centred_mean, [300, 301, 302])
    (name, n_bars, size, _first), = report.changed_features()
    assert name == "centred_ma" and n_bars == 3 and np.isinf(size)


def test_selected_bars_include_every_trade_in_the_recent_window() -> None:
    decisions = np.zeros(1000, dtype=np.int8)
    trades = [950, 960, 999, 100]
    decisions[trades] = 1
    positions, n_random, n_trades = select_bars(decisions, first=50, points=10, window=100,
                                                rng=np.random.default_rng(0))
    assert {950, 960, 999} <= set(positions.tolist())
    assert n_trades == 3 and n_random == 10
    assert positions.min() >= 50 and np.all(np.diff(positions) > 0)


def test_bounded_lookback_mode_cuts_the_history_too() -> None:
    bars = make_bars(800, seed=6)
    seen_lengths = []

    def recording(b: pd.DataFrame) -> pd.DataFrame:
        seen_lengths.append(len(b))
        return tiny_features(b)

    report = check_lookahead(bars, recording, [500, 700], lookback=200)
    assert report.clean
    assert seen_lengths[1:] == [200, 200]
