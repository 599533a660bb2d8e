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
    DAY_BOUNDARIES,
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
from mlops.features.spec import PARAMS, feature_set_params
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
    assert feature_set_hash(FEATURE_SET_NAME, FEATURE_COLUMNS, PARAMS_VERSION,
                            feature_set_params()) == FEATURE_SET_HASH


def test_the_day_boundary_is_part_of_the_feature_set_id() -> None:
    assert feature_set_id() == feature_set_id("ny17") != feature_set_id("utc")
    assert "DAY_BOUNDARY" not in PARAMS  # a string: added by feature_set_params
    with pytest.raises(ValueError, match="ny17, utc"):
        feature_set_id("london")


def test_feature_set_hash_changes_with_columns_order_and_version() -> None:
    def with_columns(columns: list[str], version: str = PARAMS_VERSION) -> str:
        return feature_set_hash(FEATURE_SET_NAME, columns, version, feature_set_params())

    assert with_columns([*FEATURE_COLUMNS, "extra_feature"]) != FEATURE_SET_HASH
    assert with_columns(FEATURE_COLUMNS[:-1]) != FEATURE_SET_HASH
    assert with_columns(FEATURE_COLUMNS[::-1]) != FEATURE_SET_HASH
    assert with_columns(FEATURE_COLUMNS, version=PARAMS_VERSION + "-next") != FEATURE_SET_HASH
    changed = {**feature_set_params(), "ATR_PERIOD": 15}
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
    """Row counts n for bars.iloc[:n]: inside H4/D1 bins, at their edges (UTC-midnight and
    forex-day grids, before and after the DST switch), around weekends."""
    hour, day = index.hour, index.day_of_week
    after_weekend = np.flatnonzero((day == 6) & (hour == 22))
    friday_last = np.flatnonzero((day == 4) & (hour == 20))
    summer = index >= pd.Timestamp("2021-03-15", tz="UTC")  # New York on daylight time

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
        # Forex day (17:00 New York): 21:00 UTC is its last hour in winter, 20:00 in summer.
        "last hour of a forex day (winter)": past_warmup(np.flatnonzero(
            (hour == 21) & (day == 2) & ~summer)) + 1,
        "first hour of a forex day (winter)": past_warmup(np.flatnonzero(
            (hour == 22) & (day == 2) & ~summer)) + 1,
        "last hour of a forex-day H4 bin (winter, 01:00)": past_warmup(np.flatnonzero(
            (hour == 1) & (day == 3) & ~summer)) + 1,
        "last hour of a forex day (summer)": int(np.flatnonzero(
            (hour == 20) & (day == 2) & summer)[0]) + 1,
        "first hour of a forex day (summer)": int(np.flatnonzero(
            (hour == 21) & (day == 2) & summer)[0]) + 1,
        "last hour of a forex-day H4 bin (summer, 00:00)": int(np.flatnonzero(
            (hour == 0) & (day == 3) & summer)[0]) + 1,
        "late": len(index) - 7,
    }


@pytest.mark.parametrize("day_boundary", DAY_BOUNDARIES)
def test_truncated_history_equals_prefix_of_full_history_for_every_column(
        bars, day_boundary) -> None:
    features = compute_features(bars, day_boundary)
    for label, n in _cut_points(bars.index).items():
        truncated = compute_features(bars.iloc[:n], day_boundary)
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

def _reference_htf(bars: pd.DataFrame, freq: str, day_boundary: str = "utc") -> pd.DataFrame:
    """Independent oracle: pandas resample + merge_asof on completion time. For the forex day,
    resample on New York wall time shifted by 7 h (17:00 becomes midnight) and convert each
    bin's end back to UTC (the oracle follows the wall clock; the two only differ for bins
    holding a DST switch, which falls on a Sunday morning when these bars have none)."""
    shift = pd.Timedelta("7h")
    frame = bars
    if day_boundary == "ny17":
        wall = bars.index.tz_convert("America/New_York").tz_localize(None) + shift
        frame = bars.set_axis(wall)
    htf = frame.resample(freq, label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last"}).dropna()
    htf["rsi"] = talib.RSI(htf["close"].to_numpy(), 14)
    htf["ret_1"] = np.log(htf["close"]).diff()
    end = htf.index + pd.Timedelta(freq)
    if day_boundary == "ny17":
        end = (end - shift).tz_localize("America/New_York").tz_convert("UTC")
    htf["completed_at"] = end.as_unit("ns")
    rows = pd.DataFrame({"closes_at": (bars.index + pd.Timedelta("1h")).as_unit("ns")},
                        index=bars.index)
    joined = pd.merge_asof(rows, htf[["completed_at", "rsi", "ret_1"]],
                           left_on="closes_at", right_on="completed_at", direction="backward")
    return joined.set_index(bars.index)


@pytest.mark.parametrize("day_boundary", DAY_BOUNDARIES)
@pytest.mark.parametrize(("freq", "prefix"), [("4h", "h4"), ("1D", "d1")])
def test_htf_join_matches_completed_bins_oracle_across_weekends(bars, freq, prefix,
                                                                day_boundary) -> None:
    features = compute_features(bars, day_boundary)
    expected = _reference_htf(bars, freq, day_boundary)
    ret = f"{prefix}_ret_1"
    np.testing.assert_allclose(features[ret], expected["ret_1"], rtol=1e-12, equal_nan=True)
    if prefix == "h4":
        np.testing.assert_allclose(features["h4_rsi_14"], expected["rsi"], rtol=1e-12,
                                   equal_nan=True)


def test_rows_in_a_partial_last_h4_bin_see_the_previous_h4_bar(bars) -> None:
    # UTC grid. Cut so that the last H4 bin [12:00, 16:00) holds only 12:00 and 13:00.
    end = int(np.flatnonzero((bars.index.hour == 13) & (bars.index > bars.index[1200]))[0])
    partial = bars.iloc[: end + 1]
    got = compute_features(partial, "utc")
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


def test_friday_d1_bar_becomes_visible_only_after_the_weekend(bars) -> None:
    features = compute_features(bars, "utc")
    index = bars.index
    friday_last = int(np.flatnonzero((index.day_of_week == 4) & (index.hour == 20))[2])
    sunday_open = friday_last + 1
    assert (index[sunday_open].day_of_week, index[sunday_open].hour) == (6, 22)
    friday = bars.loc[index[friday_last].normalize(): index[friday_last]]
    thursday_close = bars["close"].iloc[int(index.searchsorted(friday.index[0])) - 1]
    friday_ret = np.log(friday["close"].iloc[-1] / thursday_close)
    assert features["d1_ret_1"].iloc[friday_last] != pytest.approx(friday_ret)
    assert features["d1_ret_1"].iloc[sunday_open] == pytest.approx(friday_ret, rel=1e-12)


def test_forex_friday_runs_from_thursday_17_new_york_and_shows_after_the_weekend(bars,
                                                                                 ) -> None:
    features = compute_features(bars)  # default: the forex day
    index = bars.index
    friday_last = int(np.flatnonzero((index.day_of_week == 4) & (index.hour == 20))[2])
    assert index[friday_last].month == 1  # winter: 17:00 New York is 22:00 UTC
    thursday_22 = index[friday_last] - pd.Timedelta("22h")
    friday = bars.loc[thursday_22: index[friday_last]]
    assert len(friday) == 23  # Thursday 22:00 to Friday 20:00 UTC
    eve_close = bars["close"].iloc[int(index.searchsorted(thursday_22)) - 1]
    friday_ret = np.log(friday["close"].iloc[-1] / eve_close)
    assert features["d1_ret_1"].iloc[friday_last] != pytest.approx(friday_ret)
    assert features["d1_ret_1"].iloc[friday_last + 1] == pytest.approx(friday_ret, rel=1e-12)


def _rows_per_day_bin(bars: pd.DataFrame, day_boundary: str) -> np.ndarray:
    from mlops.features import htf
    from mlops.features.bars import bar_arrays

    grid = htf.grid(bar_arrays(bars), day_boundary)
    return np.unique(grid.day_start, return_counts=True)[1][1:-1]  # complete days only


def test_forex_day_bins_have_no_sunday_stub_but_utc_bins_do(bars) -> None:
    forex = _rows_per_day_bin(bars, "ny17")
    utc = _rows_per_day_bin(bars, "utc")
    assert forex.min() >= 23  # Sunday's two hours belong to Monday's candle
    assert (utc == 2).sum() >= 10  # one Sunday stub a week: about one D1 bar in six
    assert len(forex) < len(utc)


def test_forex_day_follows_new_york_daylight_saving(bars) -> None:
    from mlops.features import htf
    from mlops.features.bars import bar_arrays

    grid = htf.grid(bar_arrays(bars), "ny17")
    start_hour = pd.DatetimeIndex(grid.day_start.astype("datetime64[ns]")).hour
    winter = bars.index < pd.Timestamp("2021-03-13", tz="UTC")
    summer = bars.index >= pd.Timestamp("2021-03-15", tz="UTC")
    assert set(start_hour[winter]) == {22} and set(start_hour[summer]) == {21}
    h4_hour = pd.DatetimeIndex(grid.h4_start.astype("datetime64[ns]")).hour
    assert set(h4_hour[winter]) == {22, 2, 6, 10, 14, 18}
    assert set(h4_hour[summer]) == {21, 1, 5, 9, 13, 17}


# --- warm-up and values ---------------------------------------------------------------------

@pytest.mark.parametrize("day_boundary", DAY_BOUNDARIES)
@pytest.mark.parametrize("calendar", ["forex", "always"])
def test_every_row_is_valid_after_warmup_bars(calendar, day_boundary) -> None:
    # From late October: the every-hour calendar then holds the 25-hour forex day (Nov 7).
    bars = make_bars(WARMUP_BARS + 300, seed=3, start="2021-10-20 05:00", calendar=calendar)
    valid = valid_rows(compute_features(bars, day_boundary))
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

    produced = _all_columns(bar_arrays(bars.iloc[:300]), "ny17")
    assert sorted(produced) == sorted(FEATURE_COLUMNS)
    assert all(values.shape == (300,) for values in produced.values())
