"""Resampling bars to longer timeframes: hand-computed bars first, then properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketdata.resample import aggregate_bins, infer_timeframe, resample_bars
from marketdata.synthetic import generate_bars
from nusatrade.errors import DataError


def bars(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (time, open, high, low, close, volume, spread)."""
    frame = pd.DataFrame(rows, columns=["time", "open", "high", "low", "close", "volume",
                                        "spread"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.set_index("time").astype("float64")


# Tuesday 2024-03-05, M15.
EIGHT_M15 = bars([
    ("2024-03-05 10:00", 2000.0, 2001.0, 1999.5, 2000.5, 10, 30),
    ("2024-03-05 10:15", 2000.5, 2003.0, 2000.0, 2002.0, 20, 35),  # hour's high
    ("2024-03-05 10:30", 2002.0, 2002.5, 1998.0, 1999.0, 30, 25),  # hour's low
    ("2024-03-05 10:45", 1999.0, 2000.0, 1998.5, 1999.5, 40, 28),
    ("2024-03-05 11:00", 1999.5, 1999.9, 1997.0, 1997.5, 5, 40),
    ("2024-03-05 11:15", 1997.5, 2004.0, 1997.5, 2003.5, 6, np.nan),  # spread unknown
    ("2024-03-05 11:30", 2003.5, 2003.6, 2001.0, 2001.5, 7, 22),
    ("2024-03-05 11:45", 2001.5, 2002.0, 2000.0, 2000.1, 8, 21),
])


def test_m15_to_h1_matches_hand_computed_bars():
    out = resample_bars(EIGHT_M15, "H1")
    expected = bars([
        # open=first, high=max, low=min, close=last, volume=sum, spread=max (NaN skipped)
        ("2024-03-05 10:00", 2000.0, 2003.0, 1998.0, 1999.5, 100, 35),
        ("2024-03-05 11:00", 1999.5, 2004.0, 1997.0, 2000.1, 26, 40),
    ])
    pd.testing.assert_frame_equal(out, expected, check_index_type=False)
    assert out.index.name == "time" and str(out.index.tz) == "UTC"


def test_the_still_running_last_bin_is_not_emitted():
    # Source ends with the 11:30 bar, which closes at 11:45: the 11:00 hour is not over.
    out = resample_bars(EIGHT_M15.iloc[:-1], "H1")
    assert list(out.index.strftime("%H:%M")) == ["10:00"]


def test_a_bin_with_a_hole_is_complete_once_its_time_has_passed():
    holed = EIGHT_M15.drop(EIGHT_M15.index[[1, 2]])  # 10:15 and 10:30 missing
    out = resample_bars(holed, "H1")
    assert list(out.index.strftime("%H:%M")) == ["10:00", "11:00"]
    assert out.loc["2024-03-05 10:00", ["open", "high", "low", "close", "volume"]].tolist() == [
        2000.0, 2001.0, 1998.5, 1999.5, 50.0]


def test_data_starting_mid_bin_drops_that_first_bin():
    out = resample_bars(EIGHT_M15.iloc[1:], "H1")  # starts at 10:15
    assert list(out.index.strftime("%H:%M")) == ["11:00"]


def test_a_first_bin_that_starts_while_the_market_is_closed_is_kept():
    # Sunday 22:00 open: the H4 bin 20:00-24:00 has nothing before 22:00 to miss.
    sunday = bars([(f"2024-03-10 {h}:00", 1, 2, 0.5, 1.5, 1, 30) for h in (22, 23)]
                  + [("2024-03-11 00:00", 1, 2, 0.5, 1.5, 1, 30)])
    out = resample_bars(sunday, "H4", from_timeframe="H1")
    assert list(out.index.strftime("%a %H:%M")) == ["Sun 20:00"]
    assert out["volume"].tolist() == [2.0]


def test_h4_bins_are_aligned_to_utc_and_weekends_produce_no_bars():
    h1 = generate_bars("H1", years=0.05, seed=1, start="2024-03-04")
    out = resample_bars(h1, "H4")
    assert set(out.index.hour) <= {0, 4, 8, 12, 16, 20}
    assert not (out.index.day_of_week == 5).any()  # no Saturday
    d1 = resample_bars(h1, "D1")
    assert (d1.index.hour == 0).all() and not (d1.index.day_of_week == 5).any()


def test_resampling_agrees_with_pandas_on_complete_bins():
    h1 = generate_bars("H1", years=0.2, seed=5, start="2024-01-08")
    ours = resample_bars(h1, "H4")
    theirs = h1.resample("4h").agg({"open": "first", "high": "max", "low": "min",
                                    "close": "last", "volume": "sum", "spread": "max"})
    theirs = theirs.dropna(subset=["open"]).loc[ours.index]
    pd.testing.assert_frame_equal(ours, theirs, check_freq=False, check_index_type=False)


def test_same_timeframe_returns_the_same_bars():
    pd.testing.assert_frame_equal(resample_bars(EIGHT_M15, "M15"), EIGHT_M15,
                                  check_index_type=False)


def test_frames_without_spread_resample_without_spread():
    out = resample_bars(EIGHT_M15.drop(columns="spread"), "H1")
    assert list(out.columns) == ["open", "high", "low", "close", "volume"]


def test_empty_frame_gives_an_empty_frame():
    out = resample_bars(EIGHT_M15.iloc[:0], "H1", from_timeframe="M15")
    assert out.empty and list(out.columns) == ["open", "high", "low", "close", "volume", "spread"]


def test_duplicate_times_are_refused():
    doubled = pd.concat([EIGHT_M15.iloc[:2], EIGHT_M15.iloc[1:3]])
    with pytest.raises(DataError, match="strictly increasing"):
        resample_bars(doubled, "H1")


def test_nan_prices_are_refused_naming_the_column():
    broken = EIGHT_M15.copy()
    broken.iloc[3, broken.columns.get_loc("close")] = np.nan
    with pytest.raises(DataError, match="column close"):
        resample_bars(broken, "H1")


def test_a_target_that_is_not_a_multiple_is_refused():
    with pytest.raises(ValueError, match="whole multiple"):
        resample_bars(EIGHT_M15, "M5")


def test_source_times_off_their_grid_are_refused():
    shifted = EIGHT_M15.copy()
    shifted.index = shifted.index + pd.Timedelta(minutes=5)
    with pytest.raises(DataError, match="grid"):
        resample_bars(shifted, "H1", from_timeframe="M15")


def test_infer_timeframe_uses_the_smallest_step():
    assert infer_timeframe(EIGHT_M15.iloc[[0, 1, 5]]) == "M15"
    with pytest.raises(DataError, match="fewer than two"):
        infer_timeframe(EIGHT_M15.iloc[:1])


def test_aggregate_bins_keeps_the_partial_bins():
    out = aggregate_bins(EIGHT_M15.iloc[1:-1], "H1")
    assert list(out.index.strftime("%H:%M")) == ["10:00", "11:00"]
    assert out["open"].iloc[0] == 2000.5 and out["close"].iloc[-1] == 2001.5


# --- the forex day (17:00 New York) ---------------------------------------------------------

def _ny_oracle(h1: pd.DataFrame, freq: str) -> pd.DataFrame:
    """pandas on New York wall time + 7 h (17:00 becomes midnight), labels back in UTC."""
    shift = pd.Timedelta("7h")
    wall = h1.set_axis(h1.index.tz_convert("America/New_York").tz_localize(None) + shift)
    out = wall.resample(freq).agg({"open": "first", "high": "max", "low": "min",
                                   "close": "last", "volume": "sum", "spread": "max"})
    out = out.dropna(subset=["open"])
    label = (out.index - shift).tz_localize("America/New_York").tz_convert("UTC")
    return out.set_axis(label.as_unit("us").rename("time"))


def test_forex_day_d1_bars_open_at_17_new_york_across_the_dst_switch():
    # Across the US switch to daylight time (Sunday 2024-03-10).
    h1 = generate_bars("H1", years=0.1, seed=3, start="2024-02-26")
    d1 = resample_bars(h1, "D1", day_boundary="ny17")
    ny = d1.index.tz_convert("America/New_York")
    assert set(ny.hour) == {17} and set(d1.index.hour) == {21, 22}
    expected = _ny_oracle(h1, "1D").loc[d1.index]
    pd.testing.assert_frame_equal(d1, expected, check_freq=False, check_index_type=False)


def test_forex_day_d1_bars_have_no_sunday_stub():
    # Winter, when the synthetic week (Sunday 22:00 to Friday 22:00 UTC) is New York's. (In
    # summer its fixed-UTC Friday 21:00 bar is after New York's 17:00 close: a broker
    # following New York has no such bar.)
    h1 = generate_bars("H1", years=0.1, seed=3, start="2024-01-08")
    d1 = resample_bars(h1, "D1", day_boundary="ny17")
    utc = resample_bars(h1, "D1")
    assert (utc.index.day_of_week == 6).any()  # UTC bins: a two-hour Sunday candle...
    assert (utc["volume"] < 0.2 * utc["volume"].median()).any()
    per_day = pd.Series(d1.index, index=d1.index).reindex(h1.index, method="ffill")
    assert per_day.value_counts().sort_index().iloc[1:-1].min() >= 23  # ...none on forex days
    assert not (d1.index.tz_convert("America/New_York").day_of_week.isin([4, 5])).any()
    assert len(d1) < len(utc)


def test_forex_day_h4_bins_count_from_17_new_york():
    h1 = generate_bars("H1", years=0.1, seed=4, start="2024-02-26")
    h4 = resample_bars(h1, "H4", day_boundary="ny17")
    winter = h4.index < pd.Timestamp("2024-03-09", tz="UTC")
    summer = h4.index > pd.Timestamp("2024-03-11", tz="UTC")
    assert set(h4.index[winter].hour) <= {22, 2, 6, 10, 14, 18}
    assert set(h4.index[summer].hour) <= {21, 1, 5, 9, 13, 17}
    expected = _ny_oracle(h1, "4h").loc[h4.index]
    pd.testing.assert_frame_equal(h4, expected, check_freq=False, check_index_type=False)


def test_forex_day_partial_last_day_is_not_emitted():
    h1 = generate_bars("H1", years=0.05, seed=5, start="2024-01-08")
    cut = h1.loc[:"2024-01-10 12:00"]  # Wednesday's forex day runs to 22:00 UTC
    d1 = resample_bars(cut, "D1", day_boundary="ny17")
    assert d1.index[-1] == pd.Timestamp("2024-01-08 22:00", tz="UTC")  # Tuesday's candle


def test_unknown_day_boundary_is_refused():
    with pytest.raises(ValueError, match="ny17, utc"):
        resample_bars(EIGHT_M15, "H4", day_boundary="tokyo")
