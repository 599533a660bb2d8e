"""Tests of mlops.features: columns, causality, higher-timeframe join, warm-up, regime, hash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from mlops.features import (
    FEATURE_COLUMNS,
    FEATURE_SET_HASH,
    FEATURE_SET_NAME,
    PARAMS_VERSION,
    WARMUP_BARS,
    compute_features,
    feature_set_hash,
    feature_set_id,
    valid_rows,
)
from mlops.features.spec import PARAMS
from nusatrade.errors import DataError

REPO = Path(__file__).resolve().parents[2]


def hourly_times(start: str, n: int, calendar: str = "forex") -> pd.DatetimeIndex:
    """``n`` H1 open times from ``start``: "forex" = Sunday 22:00 to Friday 21:00 UTC, no
    weekend bars; "always" = every hour (the worst case for bars per higher-timeframe bin)."""
    candidates = pd.date_range(start, periods=2 * n + 200, freq="1h", tz="UTC", name="time")
    if calendar == "always":
        return candidates[:n]
    day, hour = candidates.day_of_week, candidates.hour
    trading = (day <= 3) | ((day == 4) & (hour <= 20)) | ((day == 6) & (hour >= 22))
    return candidates[trading][:n]


def make_bars(n: int, seed: int = 0, start: str = "2021-01-03 22:00",
              calendar: str = "forex", price: float = 1800.0) -> pd.DataFrame:
    """Gold-like H1 bars: fat-tailed returns with wandering volatility, volume tied to moves."""
    rng = np.random.default_rng(seed)
    index = hourly_times(start, n, calendar)
    vol = 0.002 * np.exp(0.3 * np.cumsum(rng.normal(0.0, 0.05, n)))
    ret = rng.standard_t(5, n) * vol / np.sqrt(5.0 / 3.0)
    close = price * np.exp(np.cumsum(ret))
    open_ = np.r_[price, close[:-1]] * np.exp(rng.normal(0.0, 0.0002, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, vol / 2)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, vol / 2)))
    volume = np.round(1000.0 * (1.0 + np.abs(ret) / vol) * rng.uniform(0.5, 1.5, n))
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": volume}, index=index)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return make_bars(1800, seed=7)


@pytest.fixture(scope="module")
def features(bars: pd.DataFrame) -> pd.DataFrame:
    return compute_features(bars)


def assert_same_values(got: pd.DataFrame, expected: pd.DataFrame, rtol: float,
                       atol: float = 0.0) -> None:
    """Every column equal to tolerance, NaN exactly where expected is NaN; names the column."""
    assert list(got.columns) == list(expected.columns)
    assert got.index.equals(expected.index)
    for name in expected.columns:
        np.testing.assert_allclose(got[name].to_numpy(), expected[name].to_numpy(), rtol=rtol,
                                   atol=atol, equal_nan=True, err_msg=f"column {name}")


# --- shape and the feature set --------------------------------------------------------------

def test_at_least_69_unique_feature_columns() -> None:
    assert len(FEATURE_COLUMNS) >= 69
    assert len(set(FEATURE_COLUMNS)) == len(FEATURE_COLUMNS)


def test_output_keeps_every_input_row_and_orders_columns(bars, features) -> None:
    assert features.index.equals(bars.index)
    assert list(features.columns) == FEATURE_COLUMNS
    assert (features.dtypes == np.float64).all()


def test_no_raw_price_level_among_features(bars) -> None:
    # Scale-free: gold at 10x the price (same returns, same volume) gives the same features.
    scaled = bars.copy()
    scaled[["open", "high", "low", "close"]] *= 10.0
    assert_same_values(compute_features(scaled), compute_features(bars), rtol=1e-7, atol=1e-9)


def test_feature_set_id_is_name_and_hash_prefix() -> None:
    assert feature_set_id() == f"{FEATURE_SET_NAME}:{FEATURE_SET_HASH[:12]}"
    assert len(FEATURE_SET_HASH) == 64
    assert feature_set_hash(
        FEATURE_SET_NAME, FEATURE_COLUMNS, PARAMS_VERSION, PARAMS) == FEATURE_SET_HASH


def test_feature_set_hash_changes_with_columns_order_and_version() -> None:
    def with_columns(columns: list[str], version: str = PARAMS_VERSION) -> str:
        return feature_set_hash(FEATURE_SET_NAME, columns, version, PARAMS)

    assert with_columns([*FEATURE_COLUMNS, "extra_feature"]) != FEATURE_SET_HASH
    assert with_columns(FEATURE_COLUMNS[:-1]) != FEATURE_SET_HASH
    assert with_columns(FEATURE_COLUMNS[::-1]) != FEATURE_SET_HASH
    assert with_columns(FEATURE_COLUMNS, version="2") != FEATURE_SET_HASH
    changed = {**PARAMS, "ATR_PERIOD": 15}
    assert feature_set_hash(FEATURE_SET_NAME, FEATURE_COLUMNS, PARAMS_VERSION,
                            changed) != FEATURE_SET_HASH


def test_module_imports_no_django() -> None:
    code = (
        "import sys, numpy as np, pandas as pd\n"
        "import mlops.features as f\n"
        "idx = pd.date_range('2024-01-01', periods=50, freq='1h', tz='UTC')\n"
        "c = 2000 + np.arange(50.0)\n"
        "bars = pd.DataFrame({'open': c, 'high': c + 1, 'low': c - 1, 'close': c,\n"
        "                     'volume': np.ones(50)}, index=idx)\n"
        "f.compute_features(bars); f.compute_latest_features(bars)\n"
        "assert 'django' not in sys.modules, 'django was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


# --- causality ------------------------------------------------------------------------------

def _cut_points(index: pd.DatetimeIndex) -> dict[str, int]:
    """Row counts n for bars.iloc[:n]: inside H4/D1 bins, at their edges, around weekends."""
    hour, day = index.hour, index.day_of_week
    after_weekend = np.flatnonzero((day == 6) & (hour == 22))
    friday_last = np.flatnonzero((day == 4) & (hour == 20))

    def past_warmup(rows: np.ndarray) -> int:
        return int(rows[rows > WARMUP_BARS + 50][0])

    mid_h4 = past_warmup(np.flatnonzero((hour % 4 == 1) & (day < 4)))
    return {
        "in warm-up": 200,
        "first bar after a weekend": past_warmup(after_weekend) + 1,
        "second bar after a weekend": past_warmup(after_weekend) + 2,
        "Friday's last bar": past_warmup(friday_last) + 1,
        "inside an H4 bin": mid_h4 + 1,
        "last hour of an H4 bin": mid_h4 + 3,
        "inside a D1 bin (13:00)": past_warmup(np.flatnonzero((hour == 13) & (day == 2))) + 1,
        "last hour of a D1 bin": past_warmup(np.flatnonzero((hour == 23) & (day == 1))) + 1,
        "late": len(index) - 7,
    }


def test_truncated_history_equals_prefix_of_full_history_for_every_column(bars,
                                                                         features) -> None:
    for label, n in _cut_points(bars.index).items():
        truncated = compute_features(bars.iloc[:n])
        try:
            assert_same_values(truncated, features.iloc[:n], rtol=1e-12)
        except AssertionError as error:
            raise AssertionError(f"cut {label!r} (n={n}): {error}") from None


def test_regime_labels_ignore_future_volatility(bars, features) -> None:
    n = 1200
    future = bars.iloc[n:].copy()
    mid = (future["high"] + future["low"]) / 2
    future["high"] = mid + 30 * (future["high"] - mid)  # volatility explodes after row n
    future["low"] = mid - 30 * (mid - future["low"])
    shocked = compute_features(pd.concat([bars.iloc[:n], future]))
    regime_columns = ["atr_pct_500", "regime_volatile", "regime_trend", "regime"]
    assert_same_values(shocked[regime_columns].iloc[:n], features[regime_columns].iloc[:n],
                       rtol=0.0)
    # ...while the future itself is seen as volatile: the percentile is a trailing one.
    assert (shocked["regime_volatile"].iloc[n + 30:n + 200] == 1.0).all()


# --- higher timeframes ----------------------------------------------------------------------

def _reference_htf(bars: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Independent oracle: pandas resample + merge_asof on completion time."""
    htf = bars.resample(freq, label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last"}).dropna()
    htf["rsi"] = talib.RSI(htf["close"].to_numpy(), 14)
    htf["ret_1"] = np.log(htf["close"]).diff()
    htf["completed_at"] = htf.index + pd.Timedelta(freq)
    rows = pd.DataFrame({"closes_at": bars.index + pd.Timedelta("1h")}, index=bars.index)
    joined = pd.merge_asof(rows, htf[["completed_at", "rsi", "ret_1"]],
                           left_on="closes_at", right_on="completed_at", direction="backward")
    return joined.set_index(bars.index)


@pytest.mark.parametrize(("freq", "prefix"), [("4h", "h4"), ("1D", "d1")])
def test_htf_join_matches_completed_bins_oracle_across_weekends(bars, features, freq,
                                                                prefix) -> None:
    expected = _reference_htf(bars, freq)
    ret = f"{prefix}_ret_1"
    np.testing.assert_allclose(features[ret], expected["ret_1"], rtol=1e-12, equal_nan=True)
    if prefix == "h4":
        np.testing.assert_allclose(features["h4_rsi_14"], expected["rsi"], rtol=1e-12,
                                   equal_nan=True)


def test_rows_in_a_partial_last_h4_bin_see_the_previous_h4_bar(bars, features) -> None:
    # Cut so that the last H4 bin [12:00, 16:00) holds only 12:00 and 13:00.
    end = int(np.flatnonzero((bars.index.hour == 13) & (bars.index > bars.index[1200]))[0])
    partial = bars.iloc[: end + 1]
    got = compute_features(partial)
    previous_h4 = partial.loc[partial.index[end - 5]: partial.index[end - 2]]  # 08:00-11:00
    assert list(previous_h4.index.hour) == [8, 9, 10, 11]
    h4 = _reference_htf(partial, "4h")
    for row in partial.index[end - 1:]:  # 12:00 and 13:00
        assert h4.at[row, "completed_at"] == previous_h4.index[-1] + pd.Timedelta("1h")
        assert got.at[row, "h4_rsi_14"] == pytest.approx(h4.at[row, "rsi"], rel=1e-12)
        assert got.at[row, "h4_ret_1"] == pytest.approx(
            np.log(previous_h4["close"].iloc[-1] / partial["close"].iloc[end - 6]), rel=1e-12)
    # The 11:00 bar closes at 12:00, the bin's close: it already sees the 08:00 H4 bar.
    assert got.iloc[end - 2]["h4_ret_1"] == got.iloc[end]["h4_ret_1"]
    assert got.iloc[end - 3]["h4_ret_1"] != got.iloc[end]["h4_ret_1"]


def test_friday_d1_bar_becomes_visible_only_after_the_weekend(bars, features) -> None:
    index = bars.index
    friday_last = int(np.flatnonzero((index.day_of_week == 4) & (index.hour == 20))[2])
    sunday_open = friday_last + 1
    assert (index[sunday_open].day_of_week, index[sunday_open].hour) == (6, 22)
    friday = bars.loc[index[friday_last].normalize(): index[friday_last]]
    thursday_close = bars["close"].iloc[int(index.searchsorted(friday.index[0])) - 1]
    friday_ret = np.log(friday["close"].iloc[-1] / thursday_close)
    assert features["d1_ret_1"].iloc[friday_last] != pytest.approx(friday_ret)
    assert features["d1_ret_1"].iloc[sunday_open] == pytest.approx(friday_ret, rel=1e-12)


# --- warm-up and values ---------------------------------------------------------------------

@pytest.mark.parametrize("calendar", ["forex", "always"])
def test_every_row_is_valid_after_warmup_bars(calendar) -> None:
    bars = make_bars(WARMUP_BARS + 300, seed=3, start="2021-03-01 05:00", calendar=calendar)
    valid = valid_rows(compute_features(bars))
    assert valid.iloc[WARMUP_BARS:].all()
    assert not valid.iloc[: WARMUP_BARS // 2].any()
    assert valid.dtype == bool


def test_warmup_rows_are_nan_not_filled(features) -> None:
    assert features.iloc[0].isna().sum() > len(FEATURE_COLUMNS) // 2
    assert features["sma_dist_200"].iloc[:199].isna().all()
    assert features["sma_dist_200"].iloc[199:].notna().all()


def test_no_infinite_values_on_valid_rows_even_in_a_flat_market() -> None:
    bars = make_bars(WARMUP_BARS + 400, seed=11)
    flat = slice(WARMUP_BARS + 100, WARMUP_BARS + 180)
    bars.iloc[flat, :4] = bars["close"].iloc[WARMUP_BARS + 99]
    bars.iloc[flat, 4] = 0.0
    features = compute_features(bars)
    values = features[valid_rows(features)].to_numpy()
    assert np.isfinite(values).all()
    assert valid_rows(features).iloc[WARMUP_BARS:].all()


def test_short_and_empty_inputs_return_all_rows(bars) -> None:
    empty = compute_features(bars.iloc[:0])
    assert empty.shape == (0, len(FEATURE_COLUMNS))
    short = compute_features(bars.iloc[:5])
    assert short.shape == (5, len(FEATURE_COLUMNS))
    assert not valid_rows(short).any()


# --- input validation -----------------------------------------------------------------------

@pytest.mark.parametrize(("breakage", "column"), [
    (lambda b: b.tz_localize(None), "time"),
    (lambda b: b.iloc[::-1], "time"),
    (lambda b: b.set_axis(b.index + pd.Timedelta("30min")), "time"),
    (lambda b: b.drop(columns="volume"), "volume"),
    (lambda b: b.assign(close=b["close"].where(b.index != b.index[9])), "close"),
    (lambda b: b.assign(high=b["low"] - 1.0), "high"),
])
def test_malformed_bars_raise_data_error_naming_the_column(bars, breakage, column) -> None:
    with pytest.raises(DataError) as error:
        compute_features(breakage(bars.iloc[:20]))
    assert error.value.column == column


def test_families_produce_exactly_the_declared_columns(bars) -> None:
    from mlops.features.bars import bar_arrays
    from mlops.features.compute import _all_columns

    produced = _all_columns(bar_arrays(bars.iloc[:300]))
    assert sorted(produced) == sorted(FEATURE_COLUMNS)
    assert all(values.shape == (300,) for values in produced.values())
