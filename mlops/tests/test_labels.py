"""Labels: next-bar direction and triple barrier, as scenario tables of hand-drawn bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.labels import LabelSpec, average_true_range, make_labels
from mlops.tests.factories import make_bars


def frame(rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(rows), freq="1h", tz="UTC", name="time")
    return pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=index).assign(
        volume=1.0)


# Triple barrier with ATR(1): the decision bar's true range is its high - low = 1.0, so with
# tp_atr=2, sl_atr=1 the long's target is entry + 2 and its stop entry - 1 (short: mirrored).
TB = LabelSpec("triple_barrier", tp_atr=2.0, sl_atr=1.0, max_bars=3, atr_period=1)
DECISION = (100.0, 100.5, 99.5, 100.0)  # bar 0: ATR 1.0; the fill is bar 1's open (100)


def test_next_bar_label_is_the_next_candles_direction_from_the_fill() -> None:
    bars = frame([(10, 11, 9, 10), (10, 12, 9, 11.5), (11.5, 12, 10, 11), (11, 11, 11, 11)])
    labels = make_labels(bars, LabelSpec())
    # row 0 -> bar 1 went 10 -> 11.5 (up); row 1 -> bar 2 went 11.5 -> 11 (down)
    assert labels["label"].iloc[:2].tolist() == [1.0, -1.0]
    assert labels["pnl_long"].iloc[:2].tolist() == [1.5, -0.5]
    assert labels["pnl_short"].iloc[:2].tolist() == [-1.5, 0.5]


def test_next_bar_zero_return_has_no_label_but_a_known_outcome() -> None:
    bars = frame([(10, 11, 9, 10), (10, 11, 9, 10), (10, 11, 9, 10)])
    labels = make_labels(bars, LabelSpec())
    assert np.isnan(labels["label"].iloc[0])
    assert labels["pnl_long"].iloc[0] == 0.0


def test_last_bar_label_is_unknown_never_filled() -> None:
    labels = make_labels(make_bars(50, seed=3), LabelSpec())
    assert labels.iloc[-1].isna().all()
    assert labels.iloc[:-1]["pnl_long"].notna().all()


@pytest.mark.parametrize(("name", "future", "long", "short", "label"), [
    # long target 102 touched, short stop 101 touched in the same bar: long wins
    ("long_target", [(100, 102.5, 99.5, 102), (102, 102, 102, 102), (102, 102, 102, 102)],
     2.0, -1.0, 1.0),
    # short target 98 touched, long stop 99 touched: short wins
    ("short_target", [(100, 100.5, 97.5, 98), (98, 98, 98, 98), (98, 98, 98, 98)],
     -1.0, 2.0, -1.0),
    # one bar touches the long's stop AND target: counts as the stop; the short is stopped too
    ("tie_is_stop", [(100, 102.5, 98.5, 100), (100, 100, 100, 100), (100, 100, 100, 100)],
     -1.0, -1.0, np.nan),
    # nothing touched in 3 bars: exit at bar 3's close (100.4)
    ("time_limit", [(100, 100.5, 99.5, 100.2), (100.2, 100.6, 99.8, 100.3),
                    (100.3, 100.7, 99.9, 100.4)], 0.4, -0.4, 1.0),
    # bar 2 gaps down through the long's stop (99) and opens at 98: filled at 98, not 99
    ("gap_through_stop", [(100, 100.5, 99.5, 100), (98, 98.5, 97.5, 98), (98, 98, 98, 98)],
     -2.0, 2.0, -1.0),
])
def test_triple_barrier_scenarios(name: str, future: list, long: float, short: float,
                                  label: float) -> None:
    bars = frame([DECISION, *future, (100, 100, 100, 100)])
    row = make_labels(bars, TB).iloc[0]
    assert row["pnl_long"] == pytest.approx(long), name
    assert row["pnl_short"] == pytest.approx(short), name
    assert (np.isnan(row["label"]) and np.isnan(label)) or row["label"] == label, name


def test_triple_barrier_rows_whose_time_limit_runs_past_the_data_are_unknown() -> None:
    labels = make_labels(make_bars(100, seed=1), LabelSpec("triple_barrier", max_bars=5))
    assert labels.iloc[-5:].isna().all().all()
    assert labels.iloc[20:-5]["pnl_long"].notna().all()


def test_atr_is_causal() -> None:
    bars = make_bars(300, seed=2)
    full = average_true_range(bars, 14)
    cut = average_true_range(bars.iloc[:200], 14)
    pd.testing.assert_series_equal(full.iloc[:200], cut)


def test_label_spec_horizon_and_round_trip() -> None:
    spec = LabelSpec("triple_barrier", tp_atr=2, sl_atr=1, max_bars=12)
    assert spec.horizon == 12 and LabelSpec().horizon == 1
    assert LabelSpec.from_dict(spec.to_dict()) == spec


def test_unknown_label_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown label"):
        LabelSpec("next_week")
