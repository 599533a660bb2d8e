"""Properties of the engine on random bars and signals (hypothesis drives the seeds)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.engine import BacktestConfig, run_backtest
from backtests.tests.scenario import MONDAY

SETTINGS = settings(max_examples=40, deadline=None)
Market = tuple[pd.DataFrame, np.ndarray]
Fields = dict[str, Any]


def random_market(seed: int, n: int, density: float) -> tuple[pd.DataFrame, np.ndarray]:
    """A random walk with gaps, wicks and weekend-free hourly bars, and random signals."""
    rng = np.random.default_rng(seed)
    close = 2000 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    gaps = rng.normal(0, 0.3, n) * (rng.random(n) < 0.05)
    open_ = np.r_[close[0], close[:-1]] + gaps + rng.normal(0, 0.05, n)
    high = np.maximum(open_, close) + rng.exponential(1.0, n)
    low = np.minimum(open_, close) - rng.exponential(1.0, n)
    frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close},
                         index=pd.date_range(MONDAY, periods=n, freq="1h", name="time"))
    frame = frame.round(2)
    frame["high"] = frame[["open", "high", "close"]].max(axis=1)
    frame["low"] = frame[["open", "low", "close"]].min(axis=1)
    signals = np.where(rng.random(n) < density, rng.choice([-1, 1], n), 0)
    return frame, signals


markets = st.builds(random_market, st.integers(0, 2**32 - 1), st.integers(30, 600),
                    st.floats(0.0, 0.4))
stops = st.sampled_from([
    {"sl_atr": 1.5, "tp_atr": 2.5}, {"sl_distance": 3.0, "tp_distance": 5.0},
    {"sl_distance": 2.0}, {"max_bars_held": 5}, {},
])
costs = st.fixed_dictionaries({
    "spread": st.sampled_from([0.0, 0.2, 0.5]), "slippage": st.sampled_from([0.0, 0.1]),
    "commission_per_lot": st.sampled_from([0.0, 7.0]),
    "swap_long_per_lot": st.sampled_from([0.0, -5.0]),
    "swap_short_per_lot": st.sampled_from([0.0, 2.0]),
})


@SETTINGS
@given(market=markets, stop=stops, cost=costs, exit_on_opposite=st.booleans())
def test_net_profit_is_the_sum_of_the_trades(market: Market, stop: Fields, cost: Fields,
                                             exit_on_opposite: bool) -> None:
    frame, signals = market
    cfg = BacktestConfig(lots=0.1, exit_on_opposite=exit_on_opposite, **stop, **cost)
    result = run_backtest(frame, signals, cfg)
    net = result.trades.net_pnl.sum()
    assert result.metrics["net_profit"] == pytest.approx(net, abs=0.005)
    assert result.equity.iloc[-1] == pytest.approx(cfg.initial_equity + net, abs=1e-6)
    assert result.trades.balance.iloc[-1:].tolist() == pytest.approx(
        [cfg.initial_equity + net] if len(result.trades) else [])
    # each trade's parts add up to its net, to the cent
    parts = (result.trades.gross_pnl - result.trades.spread_cost - result.trades.slippage_cost
             - result.trades.commission + result.trades.swap)
    assert np.allclose(parts, result.trades.net_pnl, atol=0.011)
    # positions never overlap and never open before their signal's next bar
    entries, exits = result.trades.entry_bar.to_numpy(), result.trades.exit_bar.to_numpy()
    assert np.all(entries[1:] >= exits[:-1])
    signal_bars = frame.index.get_indexer(result.trades.signal_time)
    assert np.all(entries == signal_bars + 1)


@SETTINGS
@given(market=markets, stop=stops)
def test_no_signals_and_no_costs_give_a_flat_equity_curve(market: Market, stop: Fields) -> None:
    frame, _ = market
    result = run_backtest(frame, np.zeros(len(frame)), BacktestConfig(**stop))
    assert result.trades.empty
    assert (result.equity == 10_000.0).all() and (result.drawdown == 0).all()
    assert result.metrics["net_profit"] == 0 and result.metrics["max_drawdown_pct"] == 0


@SETTINGS
@given(market=markets, stop=stops, commission=st.floats(0.5, 20.0))
def test_commission_only_lowers_each_trade(market: Market, stop: Fields,
                                           commission: float) -> None:
    frame, signals = market
    free = run_backtest(frame, signals, BacktestConfig(lots=0.3, **stop))
    paid = run_backtest(frame, signals,
                        BacktestConfig(lots=0.3, commission_per_lot=commission, **stop))
    # commission does not move prices, so the same trades happen, each one cheaper
    assert paid.trades.entry_bar.tolist() == free.trades.entry_bar.tolist()
    assert np.allclose(free.trades.net_pnl - paid.trades.net_pnl,
                       round(commission * 0.3, 2), atol=0.011)
    assert paid.metrics["net_profit"] <= free.metrics["net_profit"]


@SETTINGS
@given(market=markets, cost=costs, max_bars=st.sampled_from([None, 3, 20]))
def test_costs_only_lower_pnl(market: Market, cost: Fields, max_bars: int | None) -> None:
    """Without price stops the trades' timing does not depend on prices, so every trade with
    costs makes at most what it makes without (a credit swap is not a cost: left out)."""
    frame, signals = market
    cost = {**cost, "swap_short_per_lot": 0.0}
    free = run_backtest(frame, signals, BacktestConfig(max_bars_held=max_bars))
    paid = run_backtest(frame, signals, BacktestConfig(max_bars_held=max_bars, **cost))
    assert paid.trades.exit_bar.tolist() == free.trades.exit_bar.tolist()
    assert (paid.trades.net_pnl <= free.trades.net_pnl + 1e-9).all()
    assert (paid.trades.costs >= 0).all()
    assert paid.metrics["net_profit"] <= free.metrics["net_profit"] + 1e-9
    assert (paid.equity.iloc[-1] <= free.equity.iloc[-1] + 1e-9)


@SETTINGS
@given(market=markets, stop=stops, cut=st.floats(0.2, 0.9))
def test_no_look_ahead(market: Market, stop: Fields, cut: float) -> None:
    """Trades that ended before the data is cut are the same with or without the rest."""
    frame, signals = market
    cfg = BacktestConfig(spread=0.2, **stop)
    m = max(3, int(len(frame) * cut))
    full = run_backtest(frame, signals, cfg).trades
    part = run_backtest(frame.iloc[:m], signals[:m], cfg).trades
    done_full = full[full.exit_bar < m - 1].reset_index(drop=True)
    done_part = part[part.exit_bar < m - 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(done_full, done_part)


@SETTINGS
@given(market=markets)
def test_equity_is_the_balance_whenever_flat(market: Market) -> None:
    frame, signals = market
    result = run_backtest(frame, signals, BacktestConfig(sl_atr=2.0, tp_atr=2.0, spread=0.1))
    open_bars = np.zeros(len(frame), dtype=bool)
    for entry, exit_ in zip(result.trades.entry_bar, result.trades.exit_bar, strict=True):
        open_bars[entry:exit_] = True
    balance = 10_000 + np.r_[0.0, np.cumsum(result.trades.net_pnl.to_numpy())]
    booked = np.searchsorted(result.trades.exit_bar.to_numpy(), np.arange(len(frame)),
                             side="right")
    flat = ~open_bars
    assert np.allclose(result.equity.to_numpy()[flat], balance[booked][flat])
