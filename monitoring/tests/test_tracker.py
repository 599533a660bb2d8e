"""The tracker's figures against hand-worked trade and signal lists (no database)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from monitoring import tracker
from monitoring.tracker import Trades

MON = pd.Timestamp("2026-01-05", tz="UTC")  # a Monday


def at(day: pd.Timestamp, hour: int) -> pd.Timestamp:
    return day + pd.Timedelta(hours=hour)


# Five trades on Monday, 1,000 to start with:
#   1  01:00-03:00  +30   balance 1030 (peak)
#   2  02:00-04:00  -10   1020          overlaps trade 1: open 01:00-04:00 = 3 h
#   3  06:00-07:00  -10   1010  drawdown 20 = 1.9417 % of 1030          1 h
#   4  10:00-12:00  +20   1030                                          2 h
#   5  20:00-23:00   -5   1025  one loss in a row now; two at worst     3 h
# exposure 9 h of the 24 h window = 37.5 %
MONDAY = [(at(MON, 1), at(MON, 3), 30.0), (at(MON, 2), at(MON, 4), -10.0),
          (at(MON, 6), at(MON, 7), -10.0), (at(MON, 10), at(MON, 12), 20.0),
          (at(MON, 20), at(MON, 23), -5.0)]


def test_trade_figures_of_a_hand_worked_list() -> None:
    figures = tracker.trade_figures(Trades.from_rows(MONDAY), opening=1000.0, start=MON,
                                    end=MON + pd.Timedelta(days=1))
    assert figures["trades"] == 5 and figures["wins"] == 2 and figures["losses"] == 3
    assert figures["win_rate"] == pytest.approx(0.4)
    assert figures["profit_factor"] == pytest.approx(50 / 25)
    assert figures["net_pnl"] == pytest.approx(25.0)
    assert figures["expectancy"] == pytest.approx(5.0)
    assert figures["max_drawdown"] == pytest.approx(20.0)
    assert figures["max_drawdown_pct"] == pytest.approx(20 / 1030 * 100)
    assert figures["consecutive_losses"] == 1 and figures["longest_losing_streak"] == 2
    assert figures["exposure_pct"] == pytest.approx(37.5)
    # Daily balances Mon 1025, Tue 1025: returns 2.5 %, 0 -> mean/std = sqrt(2)/2.
    assert figures["sharpe"] == pytest.approx(math.sqrt(2) / 2 * math.sqrt(260))


def test_no_trades_gives_undefined_ratios_not_zero() -> None:
    figures = tracker.trade_figures(Trades.from_rows([]), opening=1000.0, start=MON,
                                    end=MON + pd.Timedelta(days=1))
    assert figures["trades"] == 0 and math.isnan(figures["win_rate"])
    assert math.isnan(figures["profit_factor"]) and figures["exposure_pct"] == 0.0
    assert figures["consecutive_losses"] == 0 and figures["max_drawdown"] == 0.0


def test_windows_split_by_days_and_by_trade_count() -> None:
    old = (pd.Timestamp("2025-11-03 09:00", tz="UTC"), pd.Timestamp("2025-11-03 10:00",
                                                                     tz="UTC"), 100.0)
    trades = Trades.from_rows([old, *MONDAY])
    out = tracker.windows(trades, initial=1000.0, end=MON + pd.Timedelta(days=1))
    assert set(out) == {"all", "7d", "30d", "90d", "last20", "last50"}
    assert out["all"]["trades"] == 6 and out["all"]["net_pnl"] == pytest.approx(125.0)
    assert out["7d"]["trades"] == 5 and out["30d"]["trades"] == 5
    assert out["90d"]["trades"] == 6
    # The 7-day window opens at 1,100 (the old trade's +100 already banked).
    assert out["7d"]["max_drawdown_pct"] == pytest.approx(20 / 1130 * 100)
    assert out["last20"]["trades"] == 6
    assert tracker.current_losing_streak(np.array([1.0, -1.0, 0.0, -2.0])) == 3
    assert tracker.current_losing_streak(np.array([-1.0, -1.0])) == 2


def test_exposure_counts_overlaps_once_and_open_positions_to_the_end() -> None:
    entries = pd.DatetimeIndex([at(MON, 0), at(MON, 1), at(MON, 18)])
    exits = pd.DatetimeIndex([at(MON, 6), at(MON, 3), pd.NaT])
    # 00:00-06:00 (the 01:00-03:00 one inside it) + 18:00-24:00 still open = 12 h of 24 h.
    assert tracker.exposure_pct(entries, exits, MON, MON + pd.Timedelta(days=1)) == 50.0


def test_signal_hit_rate_is_judged_on_the_next_bar() -> None:
    bar_times = pd.date_range(MON, periods=5, freq="h")
    opens = np.array([100.0, 101.0, 102.0, 101.0, 100.0])
    closes = np.array([101.0, 102.0, 101.0, 100.0, 100.0])  # up, up, down, down, flat
    signals = pd.DatetimeIndex([bar_times[0], bar_times[1], bar_times[2], bar_times[3],
                                bar_times[4]])
    realised = tracker.next_bar_direction(signals, bar_times, opens, closes)
    # signal at bar 0 is judged on bar 1 (up), bar 1 on bar 2 (down), ..., bar 4: not yet.
    np.testing.assert_array_equal(realised[:4], [1.0, -1.0, -1.0, 0.0])
    assert np.isnan(realised[4])
    decisions = np.array(["BUY", "BUY", "SELL", "HOLD", "SELL"], dtype=object)
    confidence = np.array([0.7, 0.6, 0.8, 0.5, np.nan])
    figures = tracker.signal_figures(decisions, confidence, realised)
    assert figures["signals"] == 5 and figures["coverage"] == pytest.approx(0.8)
    assert figures["hold_share"] == pytest.approx(0.2)
    assert figures["avg_confidence"] == pytest.approx(0.65)
    # BUY on up: hit; BUY on down: miss; SELL on down: hit; SELL on bar 4: not judged yet.
    assert figures["hits"] == 2 and figures["judged"] == 3
    assert figures["hit_rate"]["estimate"] == pytest.approx(2 / 3)
    assert 0 < figures["hit_rate"]["low"] < 2 / 3 < figures["hit_rate"]["high"] < 1


def test_binomial_consistency_of_the_live_win_rate() -> None:
    # 2 wins of 5 under a 60 % backtest: P(X <= 2) = .4^5 + 5 .6 .4^4 + 10 .6^2 .4^3
    hand = 0.4 ** 5 + 5 * 0.6 * 0.4 ** 4 + 10 * 0.36 * 0.4 ** 3
    test = tracker.binomial_consistency(2, 5, 0.6)
    assert test["p_value"] == pytest.approx(hand) and test["consistent"] is True
    worse = tracker.binomial_consistency(2, 20, 0.6)
    assert worse["p_value"] < 0.05 and worse["consistent"] is False
    assert tracker.binomial_consistency(0, 0, 0.6)["p_value"] is None
    assert tracker.binomial_consistency(3, 5, None)["consistent"] is None


def test_versus_backtest_puts_each_figure_beside_the_backtest() -> None:
    live = tracker.trade_figures(Trades.from_rows(MONDAY), opening=1000.0, start=MON,
                                 end=MON + pd.Timedelta(days=1))
    signals = {"hits": 2, "judged": 3}
    out = tracker.versus_backtest(live, signals, {"win_rate": 0.6, "profit_factor": 1.5,
                                                  "hit_rate": 0.55, "source": "backtest #1"})
    assert out["figures"]["win_rate"] == {"live": 0.4, "backtest": 0.6}
    assert out["figures"]["profit_factor"]["backtest"] == 1.5
    assert out["win_rate_test"]["n"] == 5 and out["hit_rate_test"]["n"] == 3
    assert out["source"] == "backtest #1"


def test_json_safe_maps_nan_and_inf_to_none() -> None:
    assert tracker.json_safe({"a": [math.nan, 1.0], "b": math.inf, "c": np.int64(3)}) == {
        "a": [None, 1.0], "b": None, "c": 3}
