"""Benchmark the backtest engine against backtesting.py, measured in the same run.

    .venv/bin/python bench/bench_backtest.py              # 123,639 H1 bars, 5 runs each
    .venv/bin/python bench/bench_backtest.py --repeat 9 --bt-repeat 5

Data: 123,639 synthetic gold-like H1 bars on the forex week (Mon 00:00 - Fri 23:00 UTC),
2005-2024, 2-digit prices, volatility regimes, weekend gaps. Signals: a synthetic model's
P(up) with a small edge (it peeks at the next hours by construction, so the strategy trades
through the whole period instead of being halted early), BUY at p >= 0.6, SELL at p <= 0.4.
Stops: SL 1.5 x ATR(14), TP 3 x ATR(14) from the entry fill, prices on the 0.01 grid.

Prints medians of several rounds (seconds; each round runs every scenario once, interleaved,
so load swings on the shared machine hit all alike) and ratios against backtesting.py, after
one warm-up run each (numba loads its cached machine code on the first call: reported apart),
and checks that both engines produce the same trades with zero costs and no risk rules.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar

from backtests.engine import BacktestConfig, prepare_bars, run_backtest
from backtests.sweep import run_sweep, signals_from_proba
from backtests.tests.backtesting_py import comparable, run_backtesting_py
from trading.risk import RiskConfig

BARS = 123_639
PIP = 0.1  # XAUUSD
BT, SWEEP = "backtesting.py", "sweep"


def synthetic_h1(n: int, seed: int = 2024) -> pd.DataFrame:
    """Gold-like H1 bars, 120 a week, with volatility regimes and weekend gaps."""
    rng = np.random.default_rng(seed)
    weeks = n // 120 + 1
    mondays = pd.date_range("2005-01-03", periods=weeks, freq="7D", tz="UTC")
    hours = (np.arange(5)[:, None] * 24 + np.arange(24)[None, :]).ravel()  # Mon..Fri
    offsets = pd.to_timedelta(hours, unit="h")
    index = (mondays.values[:, None] + offsets.values[None, :]).ravel()[:n]
    regime = np.repeat(rng.choice([0.6, 1.0, 1.8], size=n // 500 + 1), 500)[:n]
    returns = rng.normal(0, 0.0018, n) * regime
    close = 1200 * np.exp(np.cumsum(returns))
    gaps = rng.normal(0, 0.0004, n) * close
    gaps[::120] = rng.normal(0, 0.004, len(gaps[::120])) * close[::120]  # Monday opens
    open_ = np.r_[close[0], close[:-1]] + gaps
    wick = np.abs(rng.normal(0, 0.0012, (2, n))) * close * regime
    frame = pd.DataFrame({
        "open": open_, "high": np.maximum(open_, close) + wick[0],
        "low": np.minimum(open_, close) - wick[1], "close": close,
    }, index=pd.DatetimeIndex(index, tz="UTC", name="time")).round(2)
    frame["high"] = frame[["open", "high", "close"]].max(axis=1)
    frame["low"] = frame[["open", "low", "close"]].min(axis=1)
    frame["volume"] = 1.0
    return frame


def synthetic_proba(frame: pd.DataFrame, seed: int = 7) -> np.ndarray:
    """P(up) of a model with a small edge: noise plus a hint of the next 6 hours' move."""
    rng = np.random.default_rng(seed)
    close = frame["close"].to_numpy()
    ahead = np.r_[close[6:], np.repeat(close[-1], 6)] - close
    edge = 0.04 * np.sign(ahead)
    return np.clip(0.5 + edge + rng.normal(0, 0.09, len(close)), 0.0, 1.0)


class Timer:
    """Times one callable: the first (warm-up) call apart, then one call per round."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn, self.times, self.first, self.out = fn, [], 0.0, None

    def warm_up(self) -> None:
        self.first = self._call()

    def once(self) -> None:
        self.times.append(self._call())

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def _call(self) -> float:
        start = time.perf_counter()
        self.out = self.fn()
        return time.perf_counter() - start


def measure(timers: dict[str, Timer], rounds: int, bt_rounds: int) -> None:
    """Rounds of every timer in turn, so machine-load swings hit all engines alike (the
    machine is shared); backtesting.py runs only in the first ``bt_rounds`` rounds."""
    for timer in timers.values():
        timer.warm_up()
    for r in range(rounds):
        for name, timer in timers.items():
            if name != BT or r < bt_rounds:
                timer.once()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=BARS)
    parser.add_argument("--repeat", type=int, default=5, help="runs per engine scenario")
    parser.add_argument("--bt-repeat", type=int, default=3, help="runs of backtesting.py")
    args = parser.parse_args()

    frame = synthetic_h1(args.bars)
    prepared = prepare_bars(frame)
    proba = synthetic_proba(frame)
    signals, confidence = signals_from_proba(proba, 0.6)
    atr = prepared.atr(14)
    signals = np.where(np.isnan(atr), 0, signals).astype(np.int8)
    signals[0] = 0
    # backtesting.py refuses SL/TP on the wrong side of the decision bar's close: no entries
    # right before a gap wider than the stop (a handful of Monday opens), for both engines.
    gap = np.abs(frame.open.to_numpy()[1:] - frame.close.to_numpy()[:-1])
    signals[:-1][gap >= 1.5 * atr[:-1]] = 0
    print(f"{len(frame):,} H1 bars {frame.index[0]:%Y-%m-%d} .. {frame.index[-1]:%Y-%m-%d}; "
          f"{np.count_nonzero(signals):,} signals ({np.mean(signals != 0):.1%} of bars)")

    stops = {"sl_atr": 1.5, "tp_atr": 3.0, "digits": 2}
    costs = {"spread": 3 * PIP, "slippage": 1 * PIP, "commission_per_lot": 7.0}
    scenarios = {
        "equivalent (no costs, no risk)": BacktestConfig(**stops),
        "costs, no risk rules": BacktestConfig(**stops, **costs),
        "costs + seed risk rules": BacktestConfig(**stops, **costs, risk=RiskConfig()),
        "costs + risk rules, 1-day cool-down": BacktestConfig(
            **stops, **costs, risk=RiskConfig(cooldown=timedelta(days=1))),
    }
    grid = {"spread": [2 * PIP, 3 * PIP, 4 * PIP, 5 * PIP], "slippage": [1 * PIP, 2 * PIP],
            "threshold": [0.50, 0.55, 0.60, 0.65, 0.70]}
    base = BacktestConfig(**stops, commission_per_lot=7.0, risk=RiskConfig())
    timers = {BT: Timer(lambda: run_backtesting_py(
        frame, signals, sl_dist=1.5 * atr, tp_dist=3.0 * atr, digits=2))}
    for name, config in scenarios.items():
        timers[name] = Timer(
            lambda c=config: run_backtest(prepared, signals, c, confidence=confidence))
    timers[SWEEP] = Timer(lambda: run_sweep(prepared, proba, grid, base))
    measure(timers, args.repeat, args.bt_repeat)

    bt_trades = timers[BT].out[0]
    results = {name: timers[name].out for name in scenarios}
    table = timers[SWEEP].out
    rows = [("backtesting.py 0.6.6 (no costs)", len(bt_trades), timers[BT])]
    rows += [(f"nusatrade: {name}", len(results[name].trades), timers[name])
             for name in scenarios]
    rows.append((f"nusatrade: sweep of {len(table)} runs (seed risk rules)",
                 int(table.trades.sum()), timers[SWEEP]))

    ours = comparable(results["equivalent (no costs, no risk)"].trades, ours=True)
    same = ours.equals(comparable(bt_trades, ours=False))
    print(f"same trades as backtesting.py (zero costs, no risk): {same} ({len(ours):,} trades)")
    bt_time = timers[BT].median
    print(f"\n{'scenario':52s} {'trades':>8s} {'first s':>8s} {'median s':>9s} {'vs bt':>7s}")
    for name, trades, timer in rows:
        print(f"{name:52s} {trades:8,d} {timer.first:8.3f} {timer.median:9.4f} "
              f"{bt_time / timer.median:6.1f}x")
    halts = results["costs + risk rules, 1-day cool-down"].metrics["halts"]
    print(f"\n(medians of {args.repeat} interleaved rounds, backtesting.py in the first "
          f"{args.bt_repeat}; cool-down scenario: {halts} halts; sweep row: total trades of "
          f"its {len(table)} runs)")
    if not same:
        sys.exit("the engines disagree")


if __name__ == "__main__":
    main()
