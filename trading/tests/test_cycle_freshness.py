"""Data freshness for the cycle: market hours, stale bars and gaps, by scenario tables."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pandas as pd
import pytest

from marketdata.calendar import FOREX, METALS, expected_times
from tests.helpers import ROOT, clean_env
from trading.cycle import freshness
from trading.cycle.freshness import check_fresh, closed_bars, expected_last_closed_bar, market_open

# January 2024 (New York winter): Fri 5th, Sat 6th, Sun 7th, Mon 8th, Wed 10th.
# 2024-12-25 is a Wednesday: its trading day runs Dec 24 22:00 to Dec 25 22:00 UTC.
XMAS = (date(2024, 12, 25),)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def feed(start: str, end: str, holidays=(), drop: tuple[str, ...] = (),
         add: tuple[str, ...] = ()) -> pd.DatetimeIndex:
    """A complete H1 feed in [start, end) by the calendar, minus ``drop``, plus ``add``."""
    times = expected_times(start, end, "H1", holidays)
    times = times.drop(pd.DatetimeIndex([ts(t) for t in drop])) if drop else times
    return times.append(pd.DatetimeIndex([ts(t) for t in add])) if add else times


@pytest.mark.parametrize(("now", "holidays", "expected"), [
    # midweek, a few seconds after the 10:00 close of the 09:00 bar
    ("2024-01-10 10:00:05", (), True),
    # Friday 22:00:05: the week's last bar (21:00) has just closed -> process it
    ("2024-01-05 22:00:05", (), True),
    # Friday 23:00:05: the bar that closed covered closed hours -> do nothing
    ("2024-01-05 23:00:05", (), False),
    # Saturday noon
    ("2024-01-06 12:00:05", (), False),
    # Sunday 22:00:05: the market opens now; the bar that closed (21:00) was closed hours
    ("2024-01-07 22:00:05", (), False),
    # Sunday 23:00:05: the first bar of the week (22:00) has closed
    ("2024-01-07 23:00:05", (), True),
    # Christmas Day at noon: a holiday, whole trading day closed
    ("2024-12-25 12:00:05", XMAS, False),
    # ... and the same instant without the holiday list is an ordinary Wednesday
    ("2024-12-25 12:00:05", (), True),
    # Dec 25 23:00:05: Dec 26's trading day opened at 22:00
    ("2024-12-25 23:00:05", XMAS, True),
])
def test_market_open_by_the_bar_that_just_closed(now, holidays, expected):
    assert market_open(ts(now), "H1", holidays) is expected


def test_expected_last_closed_bar_holds_friday_all_weekend():
    assert expected_last_closed_bar(ts("2024-01-06 12:00"), "H1") == ts("2024-01-05 21:00")
    assert expected_last_closed_bar(ts("2024-01-07 22:59"), "H1") == ts("2024-01-05 21:00")
    assert expected_last_closed_bar(ts("2024-01-07 23:00"), "H1") == ts("2024-01-07 22:00")
    assert expected_last_closed_bar(ts("2024-12-25 12:00"), "H1", XMAS) == ts("2024-12-24 21:00")


MIDWEEK = ("2024-01-08", "2024-01-10 10:00")  # complete through the 09:00 bar

FRESHNESS_SCENARIOS = [
    pytest.param(
        # complete feed, 10:00:05: decide on the 09:00 bar
        feed(*MIDWEEK), "2024-01-10 10:00:05", (), 24,
        "ok", "2024-01-10 09:00", id="midweek-current"),
    pytest.param(
        # the 10:00 bar is still forming at 10:30 and an 11:00 bar is from the future:
        # both ignored, the decision is on 09:00 (no look-ahead)
        feed(*MIDWEEK, add=("2024-01-10 10:00", "2024-01-10 11:00")), "2024-01-10 10:30", (), 24,
        "ok", "2024-01-10 09:00", id="current-bar-still-forming"),
    pytest.param(
        # the feed stopped one bar early: 09:00 is missing at 10:00:05
        feed(*MIDWEEK, drop=("2024-01-10 09:00",)), "2024-01-10 10:00:05", (), 24,
        "stale_data", "2024-01-10 08:00", id="one-period-late"),
    pytest.param(
        # Friday 22:00:05: 21:00 is the last bar of the week
        feed("2024-01-03", "2024-01-05 22:00"), "2024-01-05 22:00:05", (), 24,
        "ok", "2024-01-05 21:00", id="friday-close"),
    pytest.param(
        # a broker on New York summer time closes at 21:00 UTC: the 21:00 shoulder bar is
        # optional, so 20:00 is current, not stale
        feed("2024-01-03", "2024-01-05 21:00"), "2024-01-05 22:00:05", (), 24,
        "ok", "2024-01-05 20:00", id="friday-early-close-shoulder"),
    pytest.param(
        # Saturday: Friday's last bar is still the current one
        feed("2024-01-03", "2024-01-05 22:00"), "2024-01-06 12:00:05", (), 24,
        "ok", "2024-01-05 21:00", id="saturday-friday-bar-current"),
    pytest.param(
        # Sunday 23:00:05: the week's first bar (22:00) is held, the lookback spans the weekend
        feed("2024-01-04", "2024-01-07 23:00"), "2024-01-07 23:00:05", (), 24,
        "ok", "2024-01-07 22:00", id="sunday-open"),
    pytest.param(
        # a late-opening broker has no 22:00 bar yet: a shoulder bar, not stale
        feed("2024-01-04", "2024-01-07 22:00"), "2024-01-07 23:00:05", (), 24,
        "ok", "2024-01-05 21:00", id="sunday-late-open-shoulder"),
    pytest.param(
        # Monday 00:00:05 and still nothing since Friday: 23:00 Sunday is required -> stale
        feed("2024-01-04", "2024-01-07 22:00"), "2024-01-08 00:00:05", (), 24,
        "stale_data", "2024-01-05 21:00", id="sunday-feed-never-opened"),
    pytest.param(
        # Dec 26 03:00:05 with Christmas closed: the 48-bar lookback spans the holiday, no gap
        feed("2024-12-20", "2024-12-26 03:00", XMAS), "2024-12-26 03:00:05", XMAS, 48,
        "ok", "2024-12-26 02:00", id="holiday-in-lookback"),
    pytest.param(
        # the same bars without the holiday list: Christmas Day looks like a hole in the feed
        feed("2024-12-20", "2024-12-26 03:00", XMAS), "2024-12-26 03:00:05", (), 48,
        "gap_in_lookback", "2024-12-26 02:00", id="holiday-unknown-is-a-gap"),
    pytest.param(
        # on Christmas Day itself the feed's Dec 24 bar is current
        feed("2024-12-20", "2024-12-24 22:00", XMAS), "2024-12-25 12:00:05", XMAS, 24,
        "ok", "2024-12-24 21:00", id="on-the-holiday"),
    pytest.param(
        # 03:00 on Wednesday missing inside the 24-bar lookback
        feed(*MIDWEEK, drop=("2024-01-10 03:00",)), "2024-01-10 10:00:05", (), 24,
        "gap_in_lookback", "2024-01-10 09:00", id="missing-bar-in-lookback"),
    pytest.param(
        # the same hole older than a 6-bar lookback does not matter
        feed(*MIDWEEK, drop=("2024-01-10 03:00",)), "2024-01-10 10:00:05", (), 6,
        "ok", "2024-01-10 09:00", id="missing-bar-before-lookback"),
    pytest.param(
        # Monday morning: the lookback spans the weekend and that is no gap
        feed("2024-01-05", "2024-01-08 06:00"), "2024-01-08 06:00:05", (), 24,
        "ok", "2024-01-08 05:00", id="weekend-in-lookback"),
    pytest.param(
        feed(*MIDWEEK), "2024-01-10 10:00:05", (), 500,
        "insufficient_history", "2024-01-10 09:00", id="lookback-longer-than-history"),
    pytest.param(
        pd.DatetimeIndex([], tz="UTC"), "2024-01-10 10:00:05", (), 24,
        "no_data", None, id="no-bars"),
    pytest.param(
        # only a forming bar: nothing closed yet
        pd.DatetimeIndex([ts("2024-01-10 10:00")]), "2024-01-10 10:30", (), 1,
        "no_data", None, id="only-forming-bar"),
    pytest.param(
        feed(*MIDWEEK, add=("2024-01-10 05:30",)), "2024-01-10 10:00:05", (), 24,
        "invalid_data", None, id="off-grid-time"),
]


@pytest.mark.parametrize(
    ("bars", "now", "holidays", "lookback", "reason", "bar_time"), FRESHNESS_SCENARIOS)
def test_check_fresh_scenarios(bars, now, holidays, lookback, reason, bar_time):
    verdict = check_fresh(bars, ts(now), "H1", holidays, lookback)
    assert verdict.reason == reason, verdict.message
    assert verdict.ok is (reason == "ok")
    assert verdict.bar_time == (ts(bar_time) if bar_time else None)
    assert verdict.message


def test_stale_message_says_what_is_missing():
    bars = feed(*MIDWEEK, drop=("2024-01-10 08:00", "2024-01-10 09:00"))
    verdict = check_fresh(bars, ts("2024-01-10 10:00:05"), "H1", lookback=24)
    assert verdict.reason == freshness.STALE
    assert "2024-01-10T07:00:00+00:00" in verdict.message
    assert "2 required bar(s) missing" in verdict.message


def test_metals_daily_break_bars_are_optional_for_gold_only():
    # XAUUSD has no 21:00 UTC bar on weekdays (CME break): a gap for forex, none for metals.
    holes = tuple(f"2024-01-{day:02d} 21:00" for day in (8, 9))
    bars = feed("2024-01-08", "2024-01-10 10:00", drop=holes)
    now = ts("2024-01-10 10:00:05")
    assert check_fresh(bars, now, "H1", lookback=48, session=METALS).ok
    assert check_fresh(bars, now, "H1", lookback=48, session=FOREX).reason == freshness.GAP


def test_naive_times_are_invalid_not_trusted():
    naive = pd.DatetimeIndex(["2024-01-10 08:00", "2024-01-10 09:00"])
    verdict = check_fresh(naive, ts("2024-01-10 10:00:05"), "H1")
    assert verdict.reason == freshness.INVALID
    assert "timezone-aware" in verdict.message


def test_duplicate_and_unsorted_bars_are_tolerated():
    bars = feed(*MIDWEEK)
    shuffled = bars[::-1].append(bars[-3:])
    verdict = check_fresh(shuffled, ts("2024-01-10 10:00:05"), "H1", lookback=24)
    assert verdict.ok and verdict.bar_time == ts("2024-01-10 09:00")
    assert len(closed_bars(shuffled, ts("2024-01-10 10:00:05"), "H1")) == len(bars)


def test_other_timeframes_use_their_own_period():
    m15 = expected_times("2024-01-10", "2024-01-10 10:00", "M15")
    assert check_fresh(m15, ts("2024-01-10 10:00:05"), "M15", lookback=20).ok
    late = check_fresh(m15[:-1], ts("2024-01-10 10:00:05"), "M15", lookback=20)
    assert late.reason == freshness.STALE and late.bar_time == ts("2024-01-10 09:30")


def test_lookback_must_be_positive():
    with pytest.raises(ValueError, match="lookback"):
        check_fresh(feed(*MIDWEEK), ts("2024-01-10 10:00:05"), "H1", lookback=0)


def test_freshness_never_imports_django():
    code = ("import sys, trading.cycle.freshness; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('django', 'celery', 'rest_framework')); print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
