"""H4 and D1: the stored bars, the beat schedules and the freshness check share one grid.

Stored H4/D1 bars are resampled on the forex-day grid (``resample_bars``' default ``"ny17"``,
``marketdata.calendar.session_bins``: D1 from 17:00 New York, H4 at 17, 21, 01 ... New York,
DST-aware); the beat schedules fire on crontabs in New York time
(``trading.cycle.schedule``); ``trading.cycle.freshness`` must expect exactly those bars at
exactly those instants, also across the DST switches (2024-03-10 and 2024-11-03).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from marketdata import calendar, synthetic
from marketdata.resample import resample_bars
from trading.cycle import freshness, schedule

NY = ZoneInfo(schedule.FOREX_DAY_ZONE)
SETTLE = timedelta(seconds=schedule.SETTLE_SECONDS)
HOLIDAYS = calendar.default_holidays(2023, 2025)
LOOKBACK = 20


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture(scope="module")
def h1() -> pd.DataFrame:
    return synthetic.generate_range("2024-01-01", "2025-01-01", "H1", seed=3, symbol="XAUUSD",
                                    start_price=2050.0)


@pytest.fixture(scope="module")
def stored(h1) -> dict[str, pd.DataFrame]:
    """The H4 and D1 bars as ``bars_resample`` stores them (its default day boundary)."""
    return {tf: resample_bars(h1, tf, from_timeframe="H1", holidays=HOLIDAYS,
                              day_boundary=calendar.DEFAULT_DAY_BOUNDARY)
            for tf in ("H4", "D1")}


def closes(bars: pd.DataFrame, timeframe: str) -> pd.DatetimeIndex:
    step = int(schedule.period(timeframe).total_seconds()) * 1_000_000_000
    return calendar.utc_index(calendar.session_bins(calendar.to_ns(bars.index), step)[1])


def crontab_fires(spec: schedule.ScheduleSpec, instant: pd.Timestamp) -> bool:
    """Whether ``spec``'s crontab (minute 0, hours and weekdays in its time zone) fires at
    ``instant`` (crontab's day_of_week: 0 = Sunday)."""
    local = instant.tz_convert(spec.timezone)
    hours = {int(h) for h in spec.hour.split(",")}
    days = range(1, 6) if spec.day_of_week == "1-5" else range(7)
    return (local.minute == 0 and local.second == 0 and local.hour in hours
            and local.isoweekday() % 7 in days)


def covers_required_hour(bar: pd.Timestamp, close: pd.Timestamp) -> bool:
    hours = pd.date_range(bar, close, freq="1h", inclusive="left")
    return bool(calendar.is_required(hours, HOLIDAYS).any())


@pytest.mark.parametrize("timeframe", ["H4", "D1"])
def test_stored_bars_are_on_the_grid_the_schedule_fires_on(stored, timeframe):
    """Every stored bar that covers a required market hour closes at an instant the beat
    schedule fires at, and the cycle started then decides on that very bar; the only bars the
    schedule may skip are the summer Friday stubs opened at 17:00 New York (21:00 UTC), whose
    only hour is the calendar's Friday 21:00 UTC shoulder (no required hour)."""
    spec = next(s for s in schedule.SCHEDULES
                if s.name == schedule.cycle_schedule_name(timeframe))
    bars = stored[timeframe].index
    missed = []
    for bar, close in zip(bars, closes(stored[timeframe], timeframe), strict=True):
        required = covers_required_hour(bar, close)
        if not required:
            local = bar.tz_convert(NY)
            assert (local.isoweekday(), local.hour, bar.hour) == (5, 17, 21), bar
            continue
        now = (close + SETTLE).to_pydatetime()
        if not (crontab_fires(spec, close)
                and schedule.bar_close_at_or_before(now, timeframe) == close
                and freshness.just_closed_bar(now, timeframe) == bar
                and freshness.market_open(now, timeframe, HOLIDAYS)):
            missed.append(bar)
    assert missed == []
    assert len(bars) > (1400 if timeframe == "H4" else 250)


@pytest.mark.parametrize("timeframe", ["H4", "D1"])
def test_every_scheduled_cycle_with_market_hours_has_its_stored_bar(stored, timeframe):
    """The other way round: every instant of 2024 the schedule fires at whose just-closed bar
    covers open market hours finds that bar stored, and the freshness check is ok on it."""
    spec = next(s for s in schedule.SCHEDULES
                if s.name == schedule.cycle_schedule_name(timeframe))
    bars = stored[timeframe].index
    instants = pd.date_range("2024-02-01", "2024-12-20", freq="1h", tz="UTC")
    fired = [t for t in instants if crontab_fires(spec, t)]
    checked, wrong = 0, []
    for instant in fired:
        now = (instant + SETTLE).to_pydatetime()
        if not freshness.market_open(now, timeframe, HOLIDAYS):
            continue
        verdict = freshness.check_fresh(bars, now, timeframe, HOLIDAYS, LOOKBACK)
        checked += 1
        if not verdict.ok or verdict.bar_time != freshness.just_closed_bar(now, timeframe):
            wrong.append((instant, verdict.reason, verdict.message))
    assert wrong == []
    assert checked > (1200 if timeframe == "H4" else 200)


# (timeframe, now, bar decided on): the first closes after each DST switch and the last
# before it. Spring: Sunday 2024-03-10 02:00 EST -> 03:00 EDT; autumn: 2024-11-03 02:00 EDT ->
# 01:00 EST. A D1 bar is the forex day from 17:00 New York; H4 counts from there.
DST_CLOSES = [
    ("D1", "2024-03-08 22:00:05", "2024-03-07 22:00"),   # Fri 17:00 EST
    ("D1", "2024-03-11 21:00:05", "2024-03-10 21:00"),   # Mon 17:00 EDT: a summer day
    ("D1", "2024-03-09 12:00:00", "2024-03-07 22:00"),   # the weekend: Friday's bar
    ("D1", "2024-11-01 21:00:05", "2024-10-31 21:00"),   # Fri 17:00 EDT
    ("D1", "2024-11-04 22:00:05", "2024-11-03 22:00"),   # Mon 17:00 EST
    ("H4", "2024-03-08 22:00:05", "2024-03-08 18:00"),   # Fri 17:00 EST, the week's last
    ("H4", "2024-03-11 01:00:05", "2024-03-10 21:00"),   # Sun 21:00 EDT, the week's first
    ("H4", "2024-03-11 05:00:05", "2024-03-11 01:00"),   # Mon 01:00 EDT
    ("H4", "2024-11-04 02:00:05", "2024-11-03 22:00"),   # Sun 21:00 EST
    ("H4", "2024-11-04 14:00:05", "2024-11-04 10:00"),   # Mon 09:00 EST
]


@pytest.mark.parametrize(("timeframe", "now", "bar"), DST_CLOSES)
def test_freshness_across_dst_expects_the_stored_bar(stored, timeframe, now, bar):
    bars = stored[timeframe].index
    verdict = freshness.check_fresh(bars, ts(now), timeframe, HOLIDAYS, LOOKBACK)
    assert verdict.ok, verdict.message
    assert verdict.bar_time == ts(bar) == freshness.expected_last_closed_bar(
        ts(now), timeframe, HOLIDAYS)
    assert ts(bar) in bars
    # The bar that has just closed is missing from the feed: stale, never a trade on the
    # bar before it.
    late = freshness.check_fresh(bars[bars != ts(bar)], ts(now), timeframe, HOLIDAYS,
                                 LOOKBACK)
    assert late.reason == freshness.STALE, late.message
    assert late.bar_time < ts(bar)


@pytest.mark.parametrize("timeframe", ["H4", "D1"])
def test_a_missing_bar_inside_the_lookback_is_a_gap_on_the_forex_day_grid(stored, timeframe):
    bars = stored[timeframe].index
    now = ts("2024-03-13 21:00:05")      # Wednesday 17:00 EDT: a D1 and an H4 close
    decided = freshness.just_closed_bar(now, timeframe)
    held = bars[bars <= decided]
    hole = held[-5]
    verdict = freshness.check_fresh(held[held != hole], now, timeframe, HOLIDAYS, LOOKBACK)
    assert verdict.reason == freshness.GAP, verdict.message
    assert hole.isoformat() in verdict.message and "1 required" in verdict.message


@pytest.mark.parametrize("timeframe", ["H4", "D1"])
def test_bars_on_the_utc_grid_are_rejected_for_h4_and_d1(h1, timeframe):
    """Bars resampled on the UTC grid (``--day-boundary utc``) are not what the schedule and
    the features expect: the check names the grid instead of deciding on them."""
    utc = resample_bars(h1, timeframe, from_timeframe="H1", holidays=HOLIDAYS,
                        day_boundary=calendar.DAY_BOUNDARY_UTC).index
    verdict = freshness.check_fresh(utc, ts("2024-03-13 21:00:05"), timeframe, HOLIDAYS,
                                    LOOKBACK)
    assert not verdict.ok and verdict.reason in (freshness.INVALID, freshness.STALE)


def test_weekend_closes_do_nothing_for_h4_and_d1():
    # Saturday 01:00 EST (H4 close) and Sunday 17:00 EST: the bars that closed hold no market
    # hour; Sunday 21:00 EST closes the week's first H4 bar (Sunday 22:00 UTC onwards).
    assert not freshness.market_open(ts("2024-01-13 06:00:05"), "H4", HOLIDAYS)
    assert not freshness.market_open(ts("2024-01-14 22:00:05"), "D1", HOLIDAYS)
    assert freshness.market_open(ts("2024-01-15 02:00:05"), "H4", HOLIDAYS)
    assert not freshness.market_open(ts("2024-12-25 22:00:05"), "D1", HOLIDAYS)  # Christmas


def test_just_closed_bar_agrees_with_the_schedule_every_hour_of_a_year():
    """Freshness and the schedule read the same ``session_bins``: at every hour of 2024 the
    bar that just closed ends where the schedule's latest close is."""
    hours = pd.date_range("2024-01-01", "2025-01-01", freq="1h", tz="UTC") + SETTLE
    for timeframe in ("H4", "D1"):
        step = int(schedule.period(timeframe).total_seconds()) * 1_000_000_000
        for now in hours[::7]:
            bar = freshness.just_closed_bar(now, timeframe)
            close = calendar.utc_index(calendar.session_bins(
                np.array([bar.as_unit("ns").value]), step)[1])[0]
            assert close == schedule.bar_close_at_or_before(now.to_pydatetime(), timeframe)
    assert schedule.bar_close_at_or_before(datetime(2024, 3, 10, 23, tzinfo=UTC), "D1") == \
        datetime(2024, 3, 10, 21, tzinfo=UTC)


# -- an H4 and a D1 account: the cycle on bars stored by ``bars_resample`` ----------------------

@pytest.fixture
def accounts(db, settings, tmp_path, monkeypatch):
    """Stored H1 bars, their H4 and D1 bars as ``bars_resample`` stores them (default: the
    forex-day grid), an active tiny model per timeframe and a paper account trading each.
    (Fourteen months of D1 are fewer bars than training asks for: the floor is lowered, these
    tests are about the cycle's bars, not about the model's quality.)"""
    from marketdata.derived import bars_resample
    from mlops.models import MLModel, ModelStatus
    from mlops.pipeline import TrainConfig
    from mlops.services import model_train, training
    from trading.services.strategy import strategy_settings_get
    from trading.tests import cyclekit

    cyclekit.fresh_estimators(settings, tmp_path)
    monkeypatch.setattr(training, "MIN_BARS", 250)
    cyclekit.store_bars(start="2023-01-01", end="2024-04-10")
    found = {}
    for tf in ("H4", "D1"):
        bars_resample("XAUUSD", "H1", tf)
        config = TrainConfig(params={"n_estimators": 10, "max_depth": 3},
                             importance_repeats=1, min_trades=1, n_jobs=1, threshold=0.5)
        model = model_train(symbol="XAUUSD", timeframe=tf, config=config, cost=0.3,
                            end=datetime(2024, 2, 29, 23, tzinfo=UTC),
                            feature_set=cyclekit.FEATURES)
        MLModel.objects.filter(pk=model.pk).update(status=ModelStatus.ACTIVE)
        account = cyclekit.paper_account(name=f"paper {tf}")
        strategy = strategy_settings_get(account.pk)
        strategy.timeframe = tf
        strategy.save(update_fields=["timeframe"])
        found[tf] = account
    return found


ACCOUNT_CLOSES = [
    ("H4", "2024-03-11 01:00:05", "2024-03-10 21:00"),   # Sun 21:00 EDT, after the switch
    ("H4", "2024-03-08 22:00:05", "2024-03-08 18:00"),   # Fri 17:00 EST, before it
    ("D1", "2024-03-11 21:00:05", "2024-03-10 21:00"),   # Mon 17:00 EDT
    ("D1", "2024-03-08 22:00:05", "2024-03-07 22:00"),   # Fri 17:00 EST
]


def test_h4_and_d1_accounts_decide_on_the_stored_bar_at_their_closes(accounts):
    """Each account's cycle (dry run: the same steps, nothing recorded) finds its stored bar
    fresh at the scheduled close and decides on it; with that bar missing it holds as stale.
    (One set-up for all cases: each case deletes a bar later than the next case's.)"""
    from marketdata.models import Bar
    from trading.cycle.run import DRY_RUN, cycle_run
    from trading.tests import cyclekit

    for timeframe, now, bar in ACCOUNT_CLOSES:
        account = accounts[timeframe]
        at = ts(now).to_pydatetime()
        outcome = cycle_run(account.pk, at=at, dry_run=True, feature_set=cyclekit.FEATURES)
        assert outcome.status == DRY_RUN and "stale" not in outcome.reason, outcome.reason
        assert outcome.decision in ("BUY", "SELL", "HOLD") and outcome.probabilities
        assert outcome.bar_time == ts(bar).to_pydatetime(), (timeframe, now)
        Bar.objects.filter(instrument__symbol="XAUUSD", timeframe=timeframe,
                           time=ts(bar).to_pydatetime()).delete()
        late = cycle_run(account.pk, at=at, dry_run=True, feature_set=cyclekit.FEATURES)
        assert late.reason.startswith(freshness.STALE), (timeframe, now, late.reason)
