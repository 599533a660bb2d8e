"""The look-ahead check catches and names a leaky feature; a causal pipeline is clean."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.lookahead import (
    BOUNDARY_KINDS,
    boundary_candidates,
    check_lookahead,
    implausible_metrics,
    select_bars,
)
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
    selection = select_bars(decisions, first=50, points=10, window=100,
                            rng=np.random.default_rng(0))
    positions = selection.positions
    assert {950, 960, 999} <= set(positions.tolist())
    assert selection.n_trades == 3 and selection.n_random == 10
    assert selection.coverage["traded_in_window"] == 3 and selection.coverage["window"] == 100
    assert positions.min() >= 50 and np.all(np.diff(positions) > 0)


def forex_bars(n: int, seed: int = 0) -> pd.DataFrame:
    """Bars on the forex week (Sunday 22:00 to Friday 20:00 UTC), Dec 25 and Jan 1 closed."""
    bars = make_bars(3 * n, seed=seed, start="2020-11-01 22:00")
    t = bars.index
    weekend = (t.day_of_week == 5) | ((t.day_of_week == 4) & (t.hour >= 21)) | (
        (t.day_of_week == 6) & (t.hour < 22))
    nyd = t.tz_convert("America/New_York")
    forex_date = (nyd + pd.Timedelta("7h")).strftime("%m-%d")
    holiday = np.isin(forex_date, ["12-25", "01-01"])
    return bars[~weekend & ~holiday].iloc[:n]


def test_boundary_candidates_find_every_kind_of_boundary() -> None:
    bars = forex_bars(2000)
    kinds = boundary_candidates(bars.index)  # the forex day (17:00 New York)
    t = bars.index
    assert set(t[kinds["week_first"]].strftime("%a %H")) <= {"Sun 22", "Sun 21", "Mon 22"}
    week_last = t[kinds["week_last"][:-1]]  # the series' last bar ends its last group
    assert set(week_last.strftime("%a")) == {"Fri", "Thu"}  # Thursday: Dec 25, Jan 1 Fridays
    assert set(week_last[week_last.day_of_week == 3].strftime("%m-%d")) == {"12-24", "12-31"}
    assert set(t[kinds["day_first"]].hour) == {22}  # winter: New York 17:00 = 22:00 UTC
    assert set(t[kinds["day_last"]].hour) <= {20, 21}  # 21:00, or Friday's 20:00
    assert set(t[kinds["h4_first"]].hour) == {22, 2, 6, 10, 14, 18}
    assert set(t[kinds["h4_last"]].hour) <= {1, 5, 9, 13, 17, 20, 21}
    sides = t[kinds["holiday"]]
    assert len(sides) == 4  # before and after Dec 25 and Jan 1
    assert {d.strftime("%m-%d") for d in sides} == {"12-24", "12-27", "12-31", "01-03"}
    utc = boundary_candidates(bars.index, "utc")
    assert set(t[utc["day_first"]].hour) <= {0, 22}  # midnight, or Sunday's stub


def test_selection_covers_each_boundary_kind_and_reports_it() -> None:
    bars = forex_bars(2000)
    decisions = np.zeros(len(bars), dtype=np.int8)
    decisions[[1990, 1995]] = -1
    selection = select_bars(decisions, first=100, points=5, window=50,
                            rng=np.random.default_rng(1), times=bars.index, per_kind=4)
    cov = selection.coverage
    assert all(cov[kind] == 4 for kind in BOUNDARY_KINDS if kind != "holiday")
    assert cov["holiday"] == 4 and cov["traded"] == 2 and cov["random"] == 5
    assert cov["total"] == len(selection.positions) <= 2 + 5 + 4 * len(BOUNDARY_KINDS)
    again = select_bars(decisions, first=100, points=0, window=50,
                        rng=np.random.default_rng(99), times=bars.index, per_kind=4)
    # Deterministic apart from the random bars: every boundary bar is selected both times.
    assert set(again.positions) <= set(selection.positions)
    report = check_lookahead(bars, tiny_features, selection.positions,
                             coverage=selection.coverage)
    text = report.render()
    assert report.to_dict()["coverage"] == cov
    assert "Coverage:" in text and "last bar of an H4 bin: 4" in text
    assert "traded bars: 2 of the 2 non-HOLD decisions in the last 50 bars" in text


def test_a_leak_only_at_the_end_of_the_trading_day_is_caught_by_boundary_bars() -> None:
    bars = forex_bars(1500, seed=2)
    t = bars.index

    def end_of_day_leak(b: pd.DataFrame) -> pd.DataFrame:
        out = tiny_features(b)
        last_hour = b.index.tz_convert("America/New_York").hour == 16  # 16:00-17:00 New York
        out["eod_LEAK"] = np.where(last_hour, b["close"].shift(-1), b["close"])
        return out

    hold = np.zeros(len(bars), dtype=np.int8)
    selection = select_bars(hold, first=100, points=0, window=50,
                            rng=np.random.default_rng(0), times=t, per_kind=3)
    report = check_lookahead(bars, end_of_day_leak, selection.positions,
                             coverage=selection.coverage)
    assert not report.clean
    assert [name for name, *_ in report.changed_features()] == ["eod_LEAK"]


def test_implausible_accuracy_or_auc_is_flagged_and_plausible_figures_are_not() -> None:
    plausible = {"test": {"accuracy": 0.53, "roc_auc": 0.55},
                 "class_balance": {"test": {"share_up": 0.5}},
                 "walk_forward": {"summary": {"pooled_accuracy": 0.52,
                                              "roc_auc": {"mean": 0.54}}}}
    assert implausible_metrics(plausible) == []
    leaky = {**plausible, "test": {"accuracy": 0.97, "roc_auc": 0.99}}
    lines = implausible_metrics(leaky)
    assert len(lines) == 2 and "test accuracy 0.970" in lines[0] and "AUC" in lines[1]
    # Unbalanced labels: 72% accuracy next to a 70% majority class is not suspicious...
    unbalanced = {"test": {"accuracy": 0.72, "roc_auc": 0.6},
                  "class_balance": {"test": {"share_up": 0.3}}}
    assert implausible_metrics(unbalanced) == []
    # ...but 0.81 is (more than 10 points above it).
    assert implausible_metrics({**unbalanced, "test": {"accuracy": 0.81, "roc_auc": 0.6}})


def test_bounded_lookback_mode_cuts_the_history_too() -> None:
    bars = make_bars(800, seed=6)
    seen_lengths = []

    def recording(b: pd.DataFrame) -> pd.DataFrame:
        seen_lengths.append(len(b))
        return tiny_features(b)

    report = check_lookahead(bars, recording, [500, 700], lookback=200)
    assert report.clean
    assert seen_lengths[1:] == [200, 200]
