"""The engine with the shared risk rules: each limit and kill switch stops trades when it
should, and every halt is recorded.

Bars come from ``outcome_bars``: one BUY per letter, three hourly bars each (signal, fill,
exit); W wins +100 and L loses -100 (1 lot, 100 per 1.0, stops 1.0 away), so eight
candidates a day, each filling at the group's second bar.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from backtests.engine import BacktestConfig, BacktestResult, run_backtest
from backtests.tests.scenario import MONDAY, outcome_bars
from trading.risk import FOREVER, RiskConfig

OFF = {"max_trades_per_day": None, "one_position_per_symbol": True,
       "daily_loss_stop_pct": None, "max_consecutive_losses": None, "min_profit_factor": None,
       "min_win_rate": None, "max_drawdown_pct": None}


def backtest(outcomes: str, lots: float = 1.0, **rules: object) -> BacktestResult:
    frame, signals = outcome_bars(outcomes)
    cfg = BacktestConfig(lots=lots, contract_size=100.0, sl_distance=1.0, tp_distance=1.0,
                         risk=RiskConfig(**{**OFF, **rules}))
    return run_backtest(frame, signals, cfg)


def hour(h: float) -> pd.Timestamp:
    return MONDAY + pd.Timedelta(hours=h)


def test_the_outcome_bars_do_what_they_say() -> None:
    result = backtest("WLW")
    assert result.trades.net_pnl.tolist() == [100.0, -100.0, 100.0]
    assert result.trades.entry_bar.tolist() == [1, 4, 7]


def test_daily_trade_limit() -> None:
    # Sixteen candidates over two UTC days (Monday 00:00 - Tuesday 23:00): two trades a day.
    result = backtest("W" * 16, max_trades_per_day=2)
    assert result.trades.entry_time.tolist() == [hour(1), hour(4), hour(25), hour(28)]
    assert result.denied == {"max_trades_per_day": 12}
    assert result.halts == ()  # a limit is not a halt


def test_daily_loss_stop_halts_until_the_next_day() -> None:
    # -100 a trade from 10,000: the fifth loss reaches -5 % and stops Monday's trading.
    result = backtest("LLLLLWWW" + "WW", daily_loss_stop_pct=5.0)
    assert result.trades.entry_time.tolist() == [hour(h) for h in (1, 4, 7, 10, 13, 25, 28)]
    (halt,) = result.halts
    assert (halt.time, halt.rule, halt.until) == (hour(14), "daily_loss_stop", hour(24))
    assert halt.reason == "lost 5.00% today (limit 5%)"
    assert result.denied == {"daily_loss_stop": 3}


def test_consecutive_losses_kill_switch_halts_for_the_rest_of_the_backtest() -> None:
    result = backtest("LLLLL" + "W" * 20, max_consecutive_losses=5)
    assert len(result.trades) == 5
    (halt,) = result.halts
    assert (halt.time, halt.rule, halt.until) == (hour(14), "consecutive_losses", FOREVER)
    assert result.metrics["halts"] == 1 and result.denied == {"consecutive_losses": 20}


def test_kill_switch_cooldown_resumes_trading() -> None:
    result = backtest("LLL" + "W" * 12, max_consecutive_losses=3, cooldown=timedelta(hours=6))
    # halted at 08:00 until 14:00: the candidates filling at 10:00 and 13:00 are refused
    assert result.halts[0].until == hour(14)
    entries = result.trades.entry_time.tolist()
    assert entries[:4] == [hour(1), hour(4), hour(7), hour(16)]
    assert len(entries) == 13


def test_profit_factor_kill_switch() -> None:
    result = backtest("WLLL" + "W" * 5, min_profit_factor=1.0, kill_switch_window=4,
                      kill_switch_min_trades=4)
    assert len(result.trades) == 4
    assert [h.rule for h in result.halts] == ["profit_factor"]
    assert result.halts[0].reason == "profit factor 0.33 over the last 4 trades (minimum 1)"


def test_win_rate_kill_switch() -> None:
    # W L W L L L: 2 wins in the last 5 = 40 %, then 1 in 5 = 20 % < 35 %
    result = backtest("WLWLLL" + "W" * 4, min_win_rate=0.35, kill_switch_window=5,
                      kill_switch_min_trades=5)
    assert len(result.trades) == 6
    assert [h.rule for h in result.halts] == ["win_rate"]
    assert result.halts[0].time == hour(17)


def test_drawdown_kill_switch() -> None:
    # 10 lots: +1,000 to a 11,000 peak, then -1,000 (9.1 %), then -1,000 (18.2 % > 15 %)
    result = backtest("WLL" + "W" * 5, lots=10.0, max_drawdown_pct=15.0)
    assert result.trades.net_pnl.tolist() == [1000.0, -1000.0, -1000.0]
    assert [h.rule for h in result.halts] == ["max_drawdown"]
    assert result.halts[0].reason == "drawdown 18.18% from the peak (limit 15%)"


def test_seed_rules_together() -> None:
    # Only the first two candidates of a day trade: losses placed at those groups.
    outcomes = "".join("L" if group in (0, 1, 8, 9, 16) else "W" for group in range(40))
    result = backtest(outcomes, max_trades_per_day=2, daily_loss_stop_pct=5.0,
                      max_consecutive_losses=5, min_profit_factor=1.0, min_win_rate=0.35,
                      max_drawdown_pct=15.0)
    # two trades a day: the fifth loss comes on Wednesday and halts for good
    assert len(result.trades) == 5
    assert result.halts[-1].rule == "consecutive_losses"
    assert result.trades.entry_time.iloc[-1] == hour(49)
    frame = result.halts_frame()
    assert list(frame.columns) == ["time", "rule", "reason", "until"]


def test_rules_that_never_refuse_change_nothing() -> None:
    """The paused (risk) path and the one-call path give the same trades."""
    rng = np.random.default_rng(5)
    n = 3_000
    close = 100 + np.cumsum(rng.normal(0, 0.3, n))
    open_ = np.r_[close[0], close[:-1]] + rng.normal(0, 0.05, n)
    frame = pd.DataFrame({
        "open": open_, "close": close,
        "high": np.maximum(open_, close) + rng.exponential(0.3, n),
        "low": np.minimum(open_, close) - rng.exponential(0.3, n),
    }, index=pd.date_range(MONDAY, periods=n, freq="1h", name="time"))
    signals = rng.choice([-1, 0, 0, 0, 1], n)
    base = BacktestConfig(sl_atr=1.5, tp_atr=2.0, spread=0.05, max_bars_held=12)
    plain = run_backtest(frame, signals, base)
    permissive = RiskConfig(**{**OFF, "one_position_per_symbol": True})
    with_rules = run_backtest(frame, signals, BacktestConfig(
        sl_atr=1.5, tp_atr=2.0, spread=0.05, max_bars_held=12, risk=permissive))
    assert len(plain.trades) > 300
    pd.testing.assert_frame_equal(plain.trades, with_rules.trades)
    assert with_rules.denied == {} and with_rules.halts == ()


@pytest.mark.parametrize("rules", [{"max_trades_per_day": 1}, {"max_consecutive_losses": 2}])
def test_equity_stays_consistent_under_halts(rules: dict[str, object]) -> None:
    result = backtest("WLLWLLWW" * 3, **rules)
    assert result.equity.iloc[-1] == pytest.approx(10_000 + result.trades.net_pnl.sum())
