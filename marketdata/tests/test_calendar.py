"""The forex-week calendar: open hours, holidays, shoulders, expected bars and gaps."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketdata import calendar
from marketdata.calendar import METALS, Gap, expected_times, find_gaps, is_open, is_required
from nusatrade.errors import DataError


def utc(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(stamps)).tz_localize("UTC")


def hours(start: str, end: str) -> pd.DatetimeIndex:
    """Every whole UTC hour in [start, end), open or not."""
    return pd.date_range(start, end, freq="1h", inclusive="left", tz="UTC")


# 2024-03-04 is a Monday; 2024-03-08 a Friday; 2024-03-10 a Sunday.
def test_market_closes_friday_2200_and_reopens_sunday_2200_utc():
    times = utc("2024-03-08 21:59", "2024-03-08 22:00", "2024-03-09 12:00",
                "2024-03-10 21:59", "2024-03-10 22:00")
    assert is_open(times).tolist() == [True, False, False, False, True]


def test_a_holiday_closes_its_whole_forex_trading_day():
    # Christmas 2024 is a Wednesday: its trading day is Dec 24 22:00 -> Dec 25 22:00 UTC.
    times = utc("2024-12-24 21:00", "2024-12-24 22:00", "2024-12-25 12:00",
                "2024-12-25 21:00", "2024-12-25 22:00")
    assert is_open(times, [date(2024, 12, 25)]).tolist() == [True, False, False, False, True]
    assert is_open(times).all()


def test_default_holidays_are_christmas_and_new_year_of_each_year():
    assert calendar.default_holidays(2023, 2024) == (
        date(2023, 12, 25), date(2023, 1, 1), date(2024, 12, 25), date(2024, 1, 1))


def test_shoulder_hours_around_open_and_close_are_open_but_not_required():
    times = utc("2024-03-08 20:00", "2024-03-08 21:00", "2024-03-10 22:00", "2024-03-10 23:00")
    assert is_open(times).tolist() == [True, True, True, True]
    assert is_required(times).tolist() == [True, False, False, True]


def test_naive_times_are_refused():
    with pytest.raises(DataError, match="timezone-aware"):
        is_open(pd.DatetimeIndex(["2024-03-04 10:00"]))


def test_an_h1_week_has_120_bars_from_sunday_2200_to_the_friday_2100_bar():
    week = expected_times("2024-03-10", "2024-03-17", "H1")
    assert len(week) == 120
    assert week[0] == pd.Timestamp("2024-03-10 22:00", tz="UTC")
    assert week[-1] == pd.Timestamp("2024-03-15 21:00", tz="UTC")
    assert week.name == "time" and str(week.tz) == "UTC"


def test_expected_times_snap_start_up_to_the_grid_and_exclude_end():
    times = expected_times("2024-03-04 10:07", "2024-03-04 11:00", "M15")
    assert list(times.strftime("%H:%M")) == ["10:15", "10:30", "10:45"]


def test_h4_and_d1_bins_that_touch_open_hours_are_expected():
    h4 = expected_times("2024-03-08 16:00", "2024-03-11 04:00", "H4")
    assert list(h4.strftime("%a %H")) == ["Fri 16", "Fri 20", "Sun 20", "Mon 00"]
    d1 = expected_times("2024-03-08", "2024-03-12", "D1")
    assert list(d1.strftime("%a")) == ["Fri", "Sun", "Mon"]


def test_last_closed_bar_is_the_one_before_the_bar_the_clock_is_in():
    inside = pd.Timestamp("2024-03-05 10:30", tz="UTC")
    assert calendar.last_closed_bar(inside, "H1") == pd.Timestamp("2024-03-05 09:00", tz="UTC")
    on_boundary = pd.Timestamp("2024-03-05 10:00", tz="UTC")
    assert calendar.last_closed_bar(on_boundary, "H1") == pd.Timestamp("2024-03-05 09:00",
                                                                        tz="UTC")


def test_last_closed_bar_over_the_weekend_is_fridays_last():
    saturday = pd.Timestamp("2024-03-09 12:00", tz="UTC")
    assert calendar.last_closed_bar(saturday, "H1") == pd.Timestamp("2024-03-08 21:00", tz="UTC")
    assert calendar.last_closed_bar(saturday, "D1") == pd.Timestamp("2024-03-08", tz="UTC")


def test_a_hole_inside_trading_hours_is_one_gap():
    times = hours("2024-03-05 06:00", "2024-03-05 16:00").delete([4, 5, 6])  # 10, 11, 12 h
    gaps = find_gaps(times, "H1")
    assert gaps == [Gap(start=pd.Timestamp("2024-03-05 10:00", tz="UTC"),
                        end=pd.Timestamp("2024-03-05 13:00", tz="UTC"),
                        missing_bars=3, duration=pd.Timedelta(hours=3))]


def test_weekends_and_holidays_are_not_gaps():
    times = expected_times("2024-12-16", "2025-01-10", "H1", calendar.default_holidays(2024, 2025))
    assert find_gaps(times, "H1", calendar.default_holidays(2024, 2025)) == []
    # Without the holiday list, Christmas and New Year's Day are 24 required hours missing each.
    gaps = find_gaps(times, "H1")
    assert [g.missing_bars for g in gaps] == [24, 24]


def test_a_gap_across_a_weekend_counts_only_required_bars():
    week = expected_times("2024-03-04", "2024-03-16", "H1")
    cut = week[(week >= "2024-03-08 18:00") & (week < "2024-03-11 02:00")]
    gaps = find_gaps(week.difference(cut), "H1")
    # Missing: Fri 18, 19, 20 (21 is a shoulder), Sun 23, Mon 00, 01 (Sun 22 is a shoulder).
    assert len(gaps) == 1
    assert gaps[0].missing_bars == 6
    assert gaps[0].start == pd.Timestamp("2024-03-08 18:00", tz="UTC")
    assert gaps[0].end == pd.Timestamp("2024-03-11 02:00", tz="UTC")
    assert gaps[0].duration == pd.Timedelta(days=2, hours=8)


def test_a_summer_broker_an_hour_early_shows_no_gap():
    # New York summer time: open Sunday 21:00 UTC, last bar Friday 20:00 UTC.
    times = hours("2024-06-09 21:00", "2024-06-14 21:00")
    assert find_gaps(times, "H1") == []


def test_metals_daily_break_hours_are_optional():
    times = expected_times("2024-03-04", "2024-03-09", "H1")
    without_break = times[~times.hour.isin([21, 22])]
    assert find_gaps(without_break, "H1", session=METALS) == []
    assert len(find_gaps(without_break, "H1")) == 4  # forex: Mon-Thu 21:00-23:00 each


def test_session_for_symbol_knows_metals():
    assert calendar.session_for("XAUUSD") is METALS
    assert calendar.session_for("EURUSD") is calendar.FOREX


def test_duplicate_and_unsorted_times_give_the_same_gaps():
    times = hours("2024-03-05 06:00", "2024-03-05 16:00").delete([4])
    shuffled = times[np.random.default_rng(3).permutation(len(times))].append(times[:3])
    assert find_gaps(shuffled, "H1") == find_gaps(times, "H1")


def test_times_off_the_timeframe_grid_are_refused():
    with pytest.raises(DataError, match="not on the UTC H4 grid"):
        find_gaps(utc("2024-03-05 00:00", "2024-03-05 02:00"), "H4")


def test_h4_gap_is_found_on_the_h4_grid():
    times = expected_times("2024-03-04", "2024-03-07", "H4").delete([3])
    gaps = find_gaps(times, "H4")
    assert [(g.start.hour, g.missing_bars) for g in gaps] == [(12, 1)]


def test_fewer_than_two_times_have_no_gaps():
    assert find_gaps(utc("2024-03-05 10:00"), "H1") == []


def test_half_a_million_m15_times_gaps_match_the_deleted_required_bars():
    holidays = calendar.default_holidays(2004, 2025)
    full = expected_times("2004-01-05", "2025-01-01", "M15", holidays)
    assert len(full) > 500_000
    rng = np.random.default_rng(11)
    drop = rng.random(len(full)) < 0.002
    drop[[0, -1]] = False
    gaps = find_gaps(full[~drop], "M15", holidays)
    dropped_required = int(is_required(full[drop], holidays).sum())
    assert sum(g.missing_bars for g in gaps) == dropped_required


# --- an independent, slow reference of the rules, for random inputs -----------------------

def _trading_day(day: date, holidays: set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def _reference_required(t: datetime, holidays: set[date]) -> bool:
    day = (t + timedelta(hours=2)).date()
    if not _trading_day(day, holidays):
        return False
    for neighbour in (t - timedelta(hours=1), t + timedelta(hours=1)):
        if not _trading_day((neighbour + timedelta(hours=2)).date(), holidays):
            return False  # within an hour of a close/open boundary: a shoulder
    return True


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), holiday_offset=st.integers(0, 20))
def test_find_gaps_agrees_with_a_slow_reference(seed: int, holiday_offset: int):
    rng = np.random.default_rng(seed)
    holidays = {date(2024, 2, 1) + timedelta(days=holiday_offset)}
    grid = hours("2024-02-01", "2024-02-29")
    present = grid[rng.random(len(grid)) < 0.9]
    gaps = find_gaps(present, "H1", holidays)
    inside = grid[(grid > present[0]) & (grid < present[-1])].difference(present)
    expected_missing = sum(_reference_required(t.to_pydatetime(), holidays) for t in inside)
    assert sum(g.missing_bars for g in gaps) == expected_missing
    for gap in gaps:
        assert not present[(present >= gap.start) & (present < gap.end)].size


# --- the forex trading day (17:00 New York, DST-aware) ---------------------------------------

def _utc(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").as_unit("ns").value)


@pytest.mark.parametrize(("time", "start", "hours"), [
    ("2024-01-09 21:59", "2024-01-08 22:00", 24),  # winter: 17:00 New York = 22:00 UTC
    ("2024-01-09 22:00", "2024-01-09 22:00", 24),
    ("2024-07-09 20:59", "2024-07-08 21:00", 24),  # summer: 21:00 UTC
    ("2024-07-09 21:00", "2024-07-09 21:00", 24),
    ("2024-03-10 12:00", "2024-03-09 22:00", 23),  # Sat-Sun day holding the spring switch
    ("2024-11-03 12:00", "2024-11-02 21:00", 25),  # ...and the autumn switch
])
def test_forex_trading_day_runs_from_17_to_17_new_york(time, start, hours):
    ns = np.array([_utc(time)])
    day_start, day_end = calendar.trading_days(ns)
    assert day_start[0] == _utc(start)
    assert (day_end[0] - day_start[0]) == hours * calendar.HOUR_NS


def test_utc_trading_day_is_midnight_to_midnight():
    day_start, day_end = calendar.trading_days(np.array([_utc("2024-07-09 21:30")]), "utc")
    assert day_start[0] == _utc("2024-07-09") and day_end[0] == _utc("2024-07-10")


def test_h4_bins_on_the_forex_day_and_a_long_last_bin_on_a_25_hour_day():
    ns = np.array([_utc("2024-01-10 01:30"), _utc("2024-11-03 21:30")])
    start, end = calendar.session_bins(ns, 4 * calendar.HOUR_NS)
    assert start[0] == _utc("2024-01-09 22:00") and end[0] == _utc("2024-01-10 02:00")
    # The 25-hour day Nov 2 21:00 -> Nov 3 22:00 UTC: its last bin holds 5 hours.
    assert start[1] == _utc("2024-11-03 17:00") and end[1] == _utc("2024-11-03 22:00")
    m15 = calendar.session_bins(ns, 15 * calendar.MINUTE_NS)[0]
    assert m15[0] == _utc("2024-01-10 01:30")  # an hour or less: the UTC grid


def test_unknown_day_boundary_names_the_choices():
    with pytest.raises(ValueError, match="ny17, utc"):
        calendar.trading_days(np.array([0]), "tokyo")
