"""How much to believe a backtest: intervals, Deflated Sharpe and PBO on known answers (a
random walk has no edge; a planted 55% signal does), and the report's assumptions box."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest

from backtests import evidence
from backtests.engine import BacktestConfig, run_backtest
from backtests.report import render_html
from backtests.sweep import run_sweep


def walk(n: int, seed: int, edge: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Hourly bars of a random walk; signals that guess the next bar's direction right with
    probability 0.5 + ``edge`` (a planted signal when ``edge`` > 0)."""
    rng = np.random.default_rng(seed)
    step = rng.choice([-1.0, 1.0], n)
    close = 1000.0 + np.cumsum(step)
    open_ = np.r_[1000.0, close[:-1]]
    frame = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + 0.1,
                          "low": np.minimum(open_, close) - 0.1, "close": close},
                         index=pd.date_range("2020-01-06", periods=n, freq="1h", tz="UTC",
                                             name="time"))
    right = rng.random(n) < 0.5 + edge
    nxt = np.r_[step[1:], 0.0]  # the next bar's move: the signal at t trades bar t + 1
    signals = np.where(right, nxt, -nxt).astype(np.int8)
    signals[-1] = 0
    return frame, signals


CONFIG = BacktestConfig(lots=0.01, max_bars_held=1, exit_on_opposite=False, leverage=None)


def test_on_a_random_walk_every_edge_is_inside_its_interval_and_dsr_is_not_significant():
    bars, signals = walk(8000, 1)
    result = run_backtest(bars, signals, CONFIG)
    returns_of: list[np.ndarray] = []
    run_sweep(bars, lambda t: walk(8000, int(t * 100))[1], {"threshold": [0.5 + i / 100
                                                                         for i in range(20)]},
              CONFIG, daily_returns_into=returns_of)
    proof = evidence.evidence(result.trades.net_pnl.to_numpy(), result.equity, 10_000.0,
                              returns_of, on_grid=False)
    ci = proof["intervals"]
    assert ci["expectancy"]["low"] < 0 < ci["expectancy"]["high"]
    assert ci["win_rate"]["low"] < 0.5 < ci["win_rate"]["high"]
    assert ci["profit_factor"]["low"] < 1 < ci["profit_factor"]["high"]
    assert ci["sharpe"]["low"] < 0 < ci["sharpe"]["high"]
    assert proof["deflated_sharpe"]["trials"] == 21
    assert not proof["deflated_sharpe"]["significant"]
    assert 0 <= proof["pbo"]["pbo"] <= 1 and proof["pbo"]["configurations"] == 20


def test_a_planted_55_percent_signal_is_found_and_its_interval_excludes_zero():
    bars, signals = walk(8000, 2, edge=0.05)
    result = run_backtest(bars, signals, CONFIG)
    proof = evidence.evidence(result.trades.net_pnl.to_numpy(), result.equity, 10_000.0)
    ci = proof["intervals"]
    assert 0.53 < ci["win_rate"]["estimate"] < 0.57
    assert ci["expectancy"]["low"] > 0 and ci["win_rate"]["low"] > 0.5
    assert ci["sharpe"]["low"] > 0
    assert proof["deflated_sharpe"]["significant"]
    assert proof["pbo"]["pbo"] is None  # no sweep: nothing to overfit among


def test_daily_returns_stop_at_a_wiped_out_account():
    index = pd.date_range("2024-01-01", periods=72, freq="1h", tz="UTC")
    equity = pd.Series(np.r_[np.full(24, 50.0), np.full(24, 0.0), np.full(24, 10.0)],
                       index=index)
    assert evidence.daily_returns(equity, 100.0).tolist() == [-0.5, -1.0, 0.0]


def test_the_report_states_its_assumptions_first_and_shows_the_evidence():
    bars, signals = walk(500, 3)
    result = run_backtest(bars, signals, BacktestConfig(commission_per_lot=7.0,
                                                        swap_long_per_lot=-3.5))
    proof = evidence.evidence(result.trades.net_pnl.to_numpy(), result.equity, 10_000.0)
    page = html.unescape(render_html(result, "t", {"Spread": "0"}, evidence=proof))
    box = page.index("Assumptions: read before the figures")
    assert box < page.index("<h2>Parameters") < page.index("<h2>Metrics")
    for words in ("next bar's open", "take-profit counts first", "commission 7 per lot",
                  "swap long -3.5", "leverage 1:100", "50% (stop-out)", "Not modelled",
                  "partial fills"):
        assert words in page, words
    assert "How much to believe it" in page and "Deflated Sharpe Ratio" in page
    assert "Probability of backtest overfitting: n/a" in page


@pytest.mark.parametrize("n", [0, 1])
def test_too_few_trades_give_no_interval(n: int):
    ci = evidence.run_intervals(np.ones(n), np.zeros(3))
    assert ci["expectancy"]["low"] is None
