"""The cycle's clock: bar closes on the H1/H4/D1 grids (the repo's ny17 convention), the
(eta, expires) window of a bar's cycle tasks, and the schedule specs (pure: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from marketdata import calendar
from trading.cycle import schedule
from trading.cycle.schedule import bar_close_at_or_before, cycle_window


@pytest.mark.parametrize(("now", "timeframe", "close"), [
    # H1: the UTC hour; a bar close itself is its own latest close
    ("2026-11-25T10:00:03", "H1", "2026-11-25T10:00"),
    ("2026-11-25T10:00:00", "H1", "2026-11-25T10:00"),
    ("2026-11-25T10:59:59", "H1", "2026-11-25T10:00"),
    # D1 in winter (EST): 17:00 New York = 22:00 UTC
    ("2026-11-25T22:00:05", "D1", "2026-11-25T22:00"),
    ("2026-11-25T21:59:59", "D1", "2026-11-24T22:00"),
    # D1 in summer (EDT): 17:00 New York = 21:00 UTC
    ("2026-07-15T21:00:05", "D1", "2026-07-15T21:00"),
    ("2026-07-16T03:00:00", "D1", "2026-07-15T21:00"),
    # H4 from the forex day start: 17, 21, 01, 05 ... New York
    ("2026-11-25T02:00:04", "H4", "2026-11-25T02:00"),    # 21:00 EST
    ("2026-11-25T05:59:00", "H4", "2026-11-25T02:00"),
    ("2026-07-15T01:00:10", "H4", "2026-07-15T01:00"),    # 21:00 EDT
])
def test_bar_close_at_or_before(now, timeframe, close):
    got = bar_close_at_or_before(datetime.fromisoformat(now).replace(tzinfo=UTC), timeframe)
    assert got == datetime.fromisoformat(close).replace(tzinfo=UTC)


@pytest.mark.parametrize("timeframe", ["H1", "H4", "D1"])
def test_bar_closes_are_the_ny17_bins_of_marketdata(timeframe):
    """Every 17 minutes of weekdays across both DST switches: our latest close is the start of
    the ny17 bin holding the time (marketdata.calendar.session_bins, the resampler's grid)."""
    times = pd.date_range("2026-02-01", "2026-12-01", freq="17min", tz="UTC")
    times = times[times.day_of_week < 5].as_unit("ns")
    bin_ns = int(pd.Timedelta(schedule.period(timeframe)).value)
    starts, _ = calendar.session_bins(times.asi8, bin_ns, "ny17")
    expected = pd.DatetimeIndex(starts.astype("datetime64[ns]")).tz_localize("UTC")
    got = [bar_close_at_or_before(t.to_pydatetime(), timeframe) for t in times]
    mismatched = [(t, g, e) for t, g, e in zip(times, got, expected, strict=True) if g != e]
    assert mismatched == []
    assert len(set(got)) > 100


def test_cycle_window_starts_after_the_settle_and_expires_at_the_next_close():
    close = datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert cycle_window(close, "H1", 5) == (close + timedelta(seconds=5),
                                            close + timedelta(hours=1))
    assert cycle_window(close, "D1", 0)[1] == close + timedelta(days=1)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: bar_close_at_or_before(datetime(2026, 11, 25, 10), "H1"), "timezone-aware"),
    (lambda: bar_close_at_or_before(datetime(2026, 11, 25, 10, tzinfo=UTC), "M7"),
     "timeframe 'M7' has no cycle schedule; use one of H1, H4, D1"),
    (lambda: cycle_window(datetime(2026, 11, 25, 10, tzinfo=UTC), "H1", -1),
     "settle_seconds must be >= 0"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_every_scheduled_timeframe_and_the_expiry_have_a_spec():
    by_name = {spec.name: spec for spec in schedule.SCHEDULES}
    assert sorted(by_name) == ["kill switches expire", "trading cycle D1", "trading cycle H1",
                               "trading cycle H4"]
    d1 = by_name["trading cycle D1"]
    assert (d1.minute, d1.hour, d1.day_of_week, d1.timezone) == ("0", "17", "1-5",
                                                                 "America/New_York")
    assert by_name["trading cycle H4"].hour == "1,5,9,13,17,21"
    for tf in schedule.SCHEDULED_TIMEFRAMES:
        spec = by_name[schedule.cycle_schedule_name(tf)]
        assert spec.task == "trading.run_cycles" and spec.kwargs["timeframe"] == tf
        # beat's own message expires before the next bar close
        assert 0 < spec.expire_seconds < schedule.period(tf).total_seconds()


def test_the_schedule_module_is_pure():
    import subprocess
    import sys

    code = ("import sys, trading.cycle.schedule; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'pandas')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=str(__import__("pathlib").Path(__file__)
                                                .resolve().parents[2]))
    assert result.returncode == 0, result.stdout + result.stderr
