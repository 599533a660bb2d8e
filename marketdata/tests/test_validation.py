"""Validation (pure): every rejection reason, duplicates, order, time zones, accounting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketdata.importers.rejections import Reason
from marketdata.importers.timezones import parse_tz, to_utc
from marketdata.tests.helpers import parsed_frame
from marketdata.validation import normalize_bars_frame, validate_bars
from nusatrade.errors import DataError

GOOD = (2000.0, 2001.0, 1999.0, 2000.5)


def rejected(result) -> dict[int, str]:
    return dict(zip(result.rejections["line"], result.rejections["reason"], strict=True))


def details(result) -> dict[int, str]:
    return dict(zip(result.rejections["line"], result.rejections["detail"], strict=True))


@pytest.mark.parametrize("prices, extra, reason, detail", [
    ((2000.0, 2001.0, 1999.0, np.nan), (), Reason.NOT_FINITE, "close nan"),
    ((2000.0, 2001.0, 1999.0, 2000.5), (np.inf,), Reason.NOT_FINITE, "volume inf"),
    ((2000.0, 1e12, 1999.0, 2000.5), (), Reason.OUT_OF_RANGE, "high 1e+12"),
    ((2000.0, 2001.0, 1999.0, 2000.5), (1e19,), Reason.OUT_OF_RANGE, "volume 1e+19"),
    ((2000.0, 2001.0, 0.0, 2000.5), (), Reason.NON_POSITIVE, "low 0"),
    ((2000.0, 2001.0, -5.0, 2000.5), (), Reason.NON_POSITIVE, "low -5"),
    ((2000.0, 2000.2, 1999.0, 2000.5), (), Reason.HIGH_BELOW,
     "high 2000.2 < max(open 2000, close 2000.5)"),
    ((2000.0, 2001.0, 2000.1, 2000.5), (), Reason.LOW_ABOVE,
     "low 2000.1 > min(open 2000, close 2000.5)"),
    ((2000.0, 2001.0, 1999.0, 2000.5), (-1.0,), Reason.NEGATIVE, "volume -1"),
    ((2000.0, 2001.0, 1999.0, 2000.5), (5.0, -3.0), Reason.NEGATIVE, "spread -3"),
])
def test_each_value_rule_rejects_with_reason_and_detail(prices, extra, reason, detail):
    frame = parsed_frame([(2, "2024-03-04 09:00", *GOOD),
                          (3, "2024-03-04 10:00", *prices, *extra),
                          (4, "2024-03-04 11:00", *GOOD)])
    result = validate_bars(frame, "H1")
    assert rejected(result) == {3: reason}
    assert details(result)[3] == detail
    assert result.bars["line"].tolist() == [2, 4]


def test_unknown_spread_is_not_a_problem():
    frame = parsed_frame([(2, "2024-03-04 09:00", *GOOD, 100.0, np.nan)])
    result = validate_bars(frame, "H1")
    assert result.rejections.empty and np.isnan(result.bars["spread"].iloc[0])


def test_the_first_failing_rule_is_the_reason():
    # NaN close AND misaligned time: the value rule runs first.
    frame = parsed_frame([(2, "2024-03-04 09:30", 2000.0, 2001.0, 1999.0, np.nan)])
    assert rejected(validate_bars(frame, "H1")) == {2: Reason.NOT_FINITE}


def test_times_off_the_timeframe_grid_are_rejected():
    frame = parsed_frame([(2, "2024-03-04 09:00", *GOOD), (3, "2024-03-04 09:15", *GOOD),
                          (4, "2024-03-04 10:00:30", *GOOD)])
    result = validate_bars(frame, "H1")
    assert rejected(result) == {3: Reason.MISALIGNED, 4: Reason.MISALIGNED}
    assert details(result)[3] == "2024-03-04 09:15:00 is not a H1 bar open time"


def test_daily_bars_align_on_the_file_clock_and_store_utc_open_times():
    frame = parsed_frame([(2, "2024-03-04", *GOOD), (3, "2024-03-05", *GOOD)])
    result = validate_bars(frame, "D1", parse_tz("UTC+2"))
    assert result.rejections.empty
    assert list(result.bars.index) == [pd.Timestamp("2024-03-03 22:00", tz="UTC"),
                                       pd.Timestamp("2024-03-04 22:00", tz="UTC")]


def test_dst_gap_and_repeat_in_a_zone_with_daylight_saving_are_rejected():
    # Europe/Athens: 2024-03-31 03:00 -> 04:00 (03:30 does not exist);
    # 2024-10-27 04:00 -> 03:00 (03:30 happens twice).
    frame = parsed_frame([(2, "2024-03-31 02:30", *GOOD), (3, "2024-03-31 03:30", *GOOD),
                          (4, "2024-10-27 03:30", *GOOD), (5, "2024-10-27 05:00", *GOOD)])
    result = validate_bars(frame, "M30", parse_tz("Europe/Athens"))
    assert rejected(result) == {3: Reason.LOCAL_TIME, 4: Reason.LOCAL_TIME}
    assert [f"{t:%m-%d %H:%M}" for t in result.bars.index] == ["03-31 00:30", "10-27 03:00"]


def test_exact_duplicates_are_counted_and_stored_once():
    frame = parsed_frame([(2, "2024-03-04 09:00", *GOOD), (3, "2024-03-04 10:00", *GOOD),
                          (4, "2024-03-04 10:00", *GOOD), (5, "2024-03-04 10:00", *GOOD)])
    result = validate_bars(frame, "H1")
    assert result.duplicates == 2 and result.rejections.empty
    assert result.bars["line"].tolist() == [2, 3]


def test_values_equal_after_database_rounding_are_duplicates_not_conflicts():
    frame = parsed_frame([(2, "2024-03-04 09:00", 1.1, 1.2, 1.0, 1.15),
                          (3, "2024-03-04 09:00", 1.1000000001, 1.2, 1.0, 1.15)])
    result = validate_bars(frame, "H1")
    assert result.duplicates == 1 and result.rejections.empty


def test_duplicate_times_with_different_values_are_all_rejected():
    frame = parsed_frame([(2, "2024-03-04 09:00", *GOOD), (3, "2024-03-04 10:00", *GOOD),
                          (4, "2024-03-04 10:00", 2000.0, 2001.0, 1999.0, 2000.7),
                          (5, "2024-03-04 10:00", *GOOD)])
    result = validate_bars(frame, "H1")
    assert rejected(result) == {3: Reason.DUPLICATE_CONFLICT, 4: Reason.DUPLICATE_CONFLICT,
                                5: Reason.DUPLICATE_CONFLICT}
    assert details(result)[4] == "2024-03-04 10:00:00 UTC also on line(s) 3, 5"
    assert result.duplicates == 0 and result.bars["line"].tolist() == [2]


def test_the_fewest_rows_are_rejected_as_out_of_order():
    # Line 4 carries a typo year; everything else is in order.
    frame = parsed_frame([(2, "2024-03-04 09:00", *GOOD), (3, "2024-03-04 10:00", *GOOD),
                          (4, "2034-03-04 11:00", *GOOD), (5, "2024-03-04 12:00", *GOOD),
                          (6, "2024-03-04 13:00", *GOOD)])
    result = validate_bars(frame, "H1")
    assert rejected(result) == {4: Reason.OUT_OF_ORDER}
    assert "line 3" in details(result)[4]
    assert result.bars["line"].tolist() == [2, 3, 5, 6]


def test_a_row_moved_back_in_time_is_out_of_order():
    frame = parsed_frame([(2, "2024-03-04 09:00", *GOOD), (3, "2024-03-04 11:00", *GOOD),
                          (4, "2024-03-04 10:00", *GOOD), (5, "2024-03-04 12:00", *GOOD)])
    result = validate_bars(frame, "H1")
    assert list(rejected(result).values()) == [Reason.OUT_OF_ORDER]
    assert len(result.bars) == 3 and result.bars.index.is_monotonic_increasing


def test_a_newest_first_file_is_read_in_reverse_with_a_note():
    frame = parsed_frame([(2, "2024-03-04 12:00", *GOOD), (3, "2024-03-04 11:00", *GOOD),
                          (4, "2024-03-04 10:00", *GOOD)])
    result = validate_bars(frame, "H1")
    assert result.rejections.empty and result.bars["line"].tolist() == [4, 3, 2]
    assert result.notes == ("the file lists bars newest first; it was read in reverse order",)


def test_output_follows_the_bars_convention():
    frame = parsed_frame([(2, "2024-03-04 09:00", 1.12345678, 1.2, 1.0, 1.15, 10.4, 20.0)])
    bars = validate_bars(frame, "H1", parse_tz("UTC-5")).bars
    assert bars.index.name == "time" and str(bars.index.tz) == "UTC"
    assert bars.index[0] == pd.Timestamp("2024-03-04 14:00", tz="UTC")
    assert list(bars.columns) == ["open", "high", "low", "close", "volume", "real_volume",
                                  "spread", "line"]
    assert bars["open"].iloc[0] == 1.123457 and bars["volume"].iloc[0] == 10.0


# --- time zones -------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, name, offset_hours", [
    (None, "UTC", 0), ("utc", "UTC", 0), ("GMT", "UTC", 0), ("UTC+2", "UTC+2", 2),
    ("GMT-5", "UTC-5", -5), ("+0300", "UTC+3", 3), ("UTC+05:30", "UTC+5:30", 5.5),
])
def test_fixed_offsets_parse(spec, name, offset_hours):
    tz = parse_tz(spec)
    assert tz.name == name and tz.offset == pd.Timedelta(hours=offset_hours)


def test_ny_plus_7_follows_us_daylight_saving():
    tz = parse_tz("NY+7")
    wall = np.array(["2024-01-15T00:00", "2024-07-15T00:00"], dtype="datetime64[us]")
    utc = to_utc(wall, tz)
    assert [str(t) for t in utc] == ["2024-01-14T22:00:00.000000", "2024-07-14T21:00:00.000000"]


def test_iana_names_keep_their_rules():
    assert parse_tz("EET").zone == "EET" and parse_tz("Europe/Athens").offset is None


@pytest.mark.parametrize("spec", ["Mars/Olympus", "UTC+25", "+2:75", "../etc/passwd"])
def test_unknown_time_zones_are_refused(spec):
    with pytest.raises(ValueError, match=r"unknown time zone|out of range"):
        parse_tz(spec)


# --- frames handed to bars_upsert ------------------------------------------------------------

def good_bars() -> pd.DataFrame:
    index = pd.date_range("2024-03-04 09:00", periods=2, freq="1h", tz="UTC", name="time")
    return pd.DataFrame({"open": [1.0, 1.1], "high": [1.2, 1.3], "low": [0.9, 1.0],
                         "close": [1.1, 1.2], "volume": [5.0, 6.0]}, index=index)


def test_a_good_frame_is_normalised_with_every_column():
    out = normalize_bars_frame(good_bars())
    assert out["real_volume"].tolist() == [0.0, 0.0] and out["spread"].isna().all()


@pytest.mark.parametrize("spoil, message", [
    (lambda f: f.tz_localize(None), "tz-aware DatetimeIndex"),
    (lambda f: f.drop(columns="close"), "lacks columns close"),
    (lambda f: f.iloc[[0, 0]], "unique"),
    (lambda f: f.assign(low=[0.9, 1.25]), "low above min"),
    (lambda f: f.assign(close=[np.nan, 1.2]), "missing, NaN or infinite"),
])
def test_a_bad_frame_is_refused_naming_the_bar(spoil, message):
    with pytest.raises(DataError, match=message):
        normalize_bars_frame(spoil(good_bars()))


# --- accounting, whatever the input -------------------------------------------------------------

prices = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.floats(min_value=0.5, max_value=3000.0))
rows = st.tuples(st.integers(min_value=0, max_value=48), st.sampled_from([0, 0, 0, 15, 30]),
                 prices, prices, prices, prices,
                 st.one_of(st.floats(min_value=-5, max_value=1e6), st.just(np.nan)))


@settings(max_examples=200, deadline=None)
@given(st.lists(rows, min_size=1, max_size=60), st.sampled_from(["UTC", "Europe/Athens"]))
def test_every_row_is_accepted_rejected_or_a_duplicate(data, zone):
    start = pd.Timestamp("2024-03-30 20:00")
    frame = parsed_frame([
        (i + 2, start + pd.Timedelta(hours=h, minutes=m), o, hi, lo, c, v)
        for i, (h, m, o, hi, lo, c, v) in enumerate(data)])
    result = validate_bars(frame, "H1", parse_tz(zone))
    assert len(result.bars) + len(result.rejections) + result.duplicates == len(frame)
    kept = set(result.bars["line"]) | set(result.rejections["line"])
    assert len(kept) == len(result.bars) + len(result.rejections)
    assert result.bars.index.is_unique and result.bars.index.is_monotonic_increasing
    assert normalize_bars_frame(result.bars.drop(columns="line")).shape[0] == len(result.bars)
