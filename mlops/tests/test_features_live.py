"""Tests of compute_latest_features: a bounded lookback reproduces full-history features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.features import (
    FEATURE_COLUMNS,
    LOOKBACK_BARS,
    WARMUP_BARS,
    compute_features,
    compute_latest_features,
)
from mlops.features.live import from_whole_day
from mlops.tests.test_features import assert_same_values, make_bars

# Live values may differ from full-history ones only by the decayed seed of the recursive
# indicators (measured far below this) and by the rounding of TA-Lib's running sums.
RTOL, ATOL = 1e-9, 1e-10


@pytest.fixture(scope="module")
def long_bars() -> pd.DataFrame:
    return make_bars(LOOKBACK_BARS + 4000, seed=21, start="2019-06-02 22:00")


@pytest.fixture(scope="module")
def full(long_bars: pd.DataFrame) -> pd.DataFrame:
    return compute_features(long_bars)


def _ends(index: pd.DatetimeIndex) -> dict[str, int]:
    """Row counts of the history given to the live function, at awkward places."""
    hour, day = index.hour, index.day_of_week
    late = np.arange(len(index)) > LOOKBACK_BARS + 500

    def first(mask: np.ndarray) -> int:
        return int(np.flatnonzero(mask & late)[0]) + 1

    return {
        "Sunday open": first((day == 6) & (hour == 22)),
        "Friday close": first((day == 4) & (hour == 20)),
        "inside an H4 bin": first((day == 2) & (hour == 9)),
        "midnight": first((day == 3) & (hour == 0)),
        "forex day's last hour (winter 21:00)": first((day == 2) & (hour == 21)),
        "forex day's first hour (winter 22:00)": first((day == 2) & (hour == 22)),
        "last row": len(index),
    }


def test_lookback_is_far_longer_than_warmup() -> None:
    assert LOOKBACK_BARS >= 2 * WARMUP_BARS


def test_latest_features_equal_full_history_for_every_column(long_bars, full) -> None:
    for label, end in _ends(long_bars.index).items():
        latest = compute_latest_features(long_bars.iloc[:end], n_last=48)
        try:
            assert_same_values(latest, full.iloc[end - 48:end], rtol=RTOL, atol=ATOL)
        except AssertionError as error:
            raise AssertionError(f"history ending at {label!r}: {error}") from None
        assert latest.notna().all().all()


def test_latest_features_read_only_the_last_lookback_bars(long_bars, full) -> None:
    n_last = 5
    used = LOOKBACK_BARS + n_last - 1
    corrupted = long_bars.copy()
    older = corrupted.index[: len(corrupted) - used]
    corrupted.loc[older, ["open", "high", "low", "close"]] *= 3.0  # a different market
    corrupted.loc[older, "volume"] = 1.0
    latest = compute_latest_features(corrupted, n_last=n_last)
    assert_same_values(latest, full.iloc[-n_last:], rtol=RTOL, atol=ATOL)


def test_latest_features_of_a_short_history_are_its_full_features(long_bars) -> None:
    short = long_bars.iloc[: WARMUP_BARS + 100]
    assert_same_values(compute_latest_features(short, n_last=3),
                       compute_features(short).iloc[-3:], rtol=0.0)


def test_latest_features_default_to_the_last_row(long_bars) -> None:
    latest = compute_latest_features(long_bars)
    assert list(latest.index) == [long_bars.index[-1]]
    assert list(latest.columns) == FEATURE_COLUMNS


def test_n_last_must_be_positive(long_bars) -> None:
    with pytest.raises(ValueError, match="n_last"):
        compute_latest_features(long_bars, n_last=0)


def test_window_starting_inside_a_utc_day_drops_that_partial_day(long_bars) -> None:
    inside = long_bars.iloc[int(np.flatnonzero(long_bars.index.hour == 5)[3]):]
    trimmed = from_whole_day(inside, "utc")
    assert trimmed.index[0].hour == 0
    assert trimmed.index[0] > inside.index[0]
    at_midnight = long_bars.loc[trimmed.index[0]:]
    assert from_whole_day(at_midnight, "utc").index.equals(at_midnight.index)


def test_window_starting_inside_a_forex_day_starts_at_the_next_new_york_17h(long_bars,
                                                                          ) -> None:
    inside = long_bars.iloc[int(np.flatnonzero(long_bars.index.hour == 5)[3]):]
    trimmed = from_whole_day(inside)  # default: the forex day
    first = trimmed.index[0].tz_convert("America/New_York")
    assert (first.hour, first.minute) == (17, 0)
    assert trimmed.index[0] > inside.index[0]
    assert from_whole_day(trimmed).index.equals(trimmed.index)
