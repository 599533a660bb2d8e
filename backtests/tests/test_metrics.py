"""backtests.metrics against hand computations."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from backtests import metrics as m

TRADES = pd.DataFrame({
    "net_pnl": [100.0, -50.0, -30.0, 0.0, 200.0, -20.0],
    "bars_held": [3, 2, 0, 5, 4, 1],
    "exit_reason": ["take_profit", "stop_loss", "stop_loss", "time", "opposite_signal",
                    "end_of_data"],
    "spread_cost": [2.0] * 6, "slippage_cost": [1.0] * 6, "commission": [0.5] * 6,
    "swap": [0.0, -1.0, 0.0, 0.0, 0.5, 0.0],
})


def test_trade_statistics_by_hand() -> None:
    stats = m._trade_stats(TRADES.net_pnl.to_numpy())
    assert (stats["trades"], stats["wins"], stats["losses"]) == (6, 2, 4)  # zero is a loss
    assert stats["win_rate"] == pytest.approx(2 / 6)
    assert (stats["gross_profit"], stats["gross_loss"]) == (300.0, 100.0)
    assert stats["profit_factor"] == pytest.approx(3.0)
    assert stats["net_profit"] == 200.0
    assert stats["expectancy"] == pytest.approx(200 / 6)
    assert stats["avg_win"] == 150.0 and stats["avg_loss"] == pytest.approx(-25.0)
    assert (stats["largest_win"], stats["largest_loss"]) == (200.0, -50.0)
    assert stats["longest_losing_streak"] == 3  # -50, -30, 0


@pytest.mark.parametrize(("net", "streak"), [
    ([], 0), ([1.0], 0), ([-1.0], 1), ([-1, -1, 1, -1, -1, -1, 1], 3), ([-1, 0, -2], 3),
])
def test_longest_losing_streak(net: list[float], streak: int) -> None:
    assert m.longest_losing_streak(np.array(net, dtype=float)) == streak


def test_profit_factor_edges() -> None:
    assert m.profit_factor(10.0, 0.0) == math.inf
    assert math.isnan(m.profit_factor(0.0, 0.0))
    assert m.profit_factor(0.0, 5.0) == 0.0


def test_no_trades_gives_nan_not_errors() -> None:
    stats = m._trade_stats(np.array([]))
    assert stats["trades"] == 0 and stats["net_profit"] == 0.0
    assert all(math.isnan(stats[k]) for k in ("win_rate", "profit_factor", "expectancy"))


def test_drawdowns_by_hand() -> None:
    equity = np.array([10_000.0, 11_000.0, 9_900.0, 10_500.0, 12_000.0, 11_400.0])
    money, pct = m.drawdowns(equity, 10_000.0)
    assert money.tolist() == [0.0, 0.0, 1_100.0, 500.0, 0.0, 600.0]
    assert pct.tolist() == pytest.approx([0.0, 0.0, 10.0, 500 / 110, 0.0, 5.0])
    # a loss on the very first bar is a drawdown from the initial equity
    assert m.drawdowns(np.array([9_000.0]), 10_000.0)[1].tolist() == [10.0]


def test_sharpe_and_sortino_by_hand() -> None:
    equity = np.array([10_100.0, 10_050.0, 10_200.0, 10_200.0])
    returns = [0.01, 10_050 / 10_100 - 1, 10_200 / 10_050 - 1, 0.0]
    assert m.bar_returns(equity, 10_000.0).tolist() == pytest.approx(returns)
    mean, stdev = statistics.fmean(returns), statistics.stdev(returns)
    assert m.sharpe(np.array(returns), 6_240) == pytest.approx(mean / stdev * math.sqrt(6_240))
    downside = math.sqrt((10_050 / 10_100 - 1) ** 2 / 4)
    assert m.sortino(np.array(returns), 6_240) == pytest.approx(mean / downside
                                                                * math.sqrt(6_240))
    assert math.isnan(m.sharpe(np.zeros(5), 6_240))
    assert math.isnan(m.sortino(np.full(5, 0.01), 6_240))


def test_one_pass_equity_statistics_match_the_reference_formulas() -> None:
    rng = np.random.default_rng(1)
    equity = 10_000 * np.exp(np.cumsum(rng.normal(0, 0.01, 5_000)))
    max_dd, max_dd_pct, mean, std, downside = m._equity_pass(equity, 10_000.0)
    money, pct = m.drawdowns(equity, 10_000.0)
    returns = m.bar_returns(equity, 10_000.0)
    assert (max_dd, max_dd_pct) == (pytest.approx(money.max()), pytest.approx(pct.max()))
    assert mean / std * math.sqrt(6_240) == pytest.approx(m.sharpe(returns, 6_240))
    assert mean / downside * math.sqrt(6_240) == pytest.approx(m.sortino(returns, 6_240))


def test_cagr_by_hand() -> None:
    assert m.cagr_pct(10_000, 12_100, 2.0) == pytest.approx(10.0)
    assert m.cagr_pct(10_000, 8_100, 2.0) == pytest.approx(-10.0)
    assert m.cagr_pct(10_000, 0.0, 2.0) == -100.0


def test_exposure_counts_the_exit_bar_of_stops_and_end_of_data() -> None:
    # bars held 3+2+0+5+4+1 = 15, plus the exit bar of the four stop/end exits = 19 of 100
    assert m.exposure_pct(TRADES, 100) == pytest.approx(19.0)
    assert m.exposure_pct(TRADES.iloc[:0], 100) == 0.0


def test_compute_metrics_over_a_year_of_daily_bars() -> None:
    index = pd.date_range("2023-01-02", periods=260, freq="B", tz="UTC", name="time")
    equity = pd.Series(np.linspace(10_100, 11_000, 260), index=index)
    out = m.compute_metrics(TRADES, equity, initial_equity=10_000.0, bars_per_year=260,
                            bar_duration=pd.Timedelta(days=1),
                            open_prices=np.array([1_800.0]), close_prices=np.array([1_980.0]))
    years = ((index[-1] + pd.Timedelta(days=1)) - index[0]).days / 365.25
    assert out["years"] == pytest.approx(years)
    assert out["return_pct"] == pytest.approx(10.0)
    assert out["cagr_pct"] == pytest.approx((1.1 ** (1 / years) - 1) * 100)
    assert out["max_drawdown"] == 0.0 and math.isnan(out["calmar"])
    assert out["trades_per_month"] == pytest.approx(6 / (years * 12))
    assert out["buy_hold_return_pct"] == pytest.approx(10.0)
    assert (out["spread_costs"], out["slippage_costs"], out["commissions"], out["swaps"]) == (
        12.0, 6.0, 3.0, -0.5)
    assert out["total_costs"] == 21.5  # swap is signed: a charge adds to the costs
    assert out["avg_bars_held"] == pytest.approx(15 / 6)


def test_calmar_is_cagr_over_max_drawdown() -> None:
    index = pd.date_range("2023-01-02", periods=4, freq="D", tz="UTC")
    equity = pd.Series([11_000.0, 9_900.0, 12_000.0, 12_100.0], index=index)
    out = m.compute_metrics(TRADES.iloc[:0], equity, initial_equity=10_000.0,
                            bars_per_year=365, bar_duration=pd.Timedelta(days=1))
    assert out["max_drawdown_pct"] == pytest.approx(10.0)
    assert out["calmar"] == pytest.approx(out["cagr_pct"] / 10.0)


def test_json_safe() -> None:
    safe = m.json_safe({"pf": math.inf, "sharpe": math.nan, "trades": 3, "net": 1.5})
    assert safe == {"pf": None, "sharpe": None, "trades": 3, "net": 1.5}


def test_equity_reaching_zero_does_not_divide_by_zero() -> None:
    # An account wiped out (equity 0, then below): returns after it are 0, nothing raises.
    index = pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC")
    equity = pd.Series([100.0, 50.0, 0.0, 0.0, -10.0], index=index)
    trades = TRADES.iloc[:1].assign(net_pnl=[-110.0])
    metrics = m.compute_metrics(trades, equity, initial_equity=100.0, bars_per_year=6240,
                                bar_duration=pd.Timedelta(hours=1))
    assert metrics["return_pct"] == pytest.approx(-110.0) and metrics["cagr_pct"] == -100.0
    assert math.isfinite(metrics["sharpe"]) and math.isfinite(metrics["max_drawdown_pct"])
    assert np.isfinite(m.bar_returns(equity.to_numpy(), 100.0)).all()
