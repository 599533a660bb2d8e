"""The backtesting engine (pure: no Django imports). Usable from a notebook::

    from backtests.engine import BacktestConfig, run_backtest
    from trading.risk import RiskConfig

    config = BacktestConfig(spread=0.3, slippage=0.1, sl_atr=1.5, tp_atr=3.0,
                            risk=RiskConfig())
    result = run_backtest(bars, signals, config)
    result.metrics["sharpe"], result.trades, result.equity, result.halts

Fill model: a signal decided at bar t's close fills at bar t+1's open
(:func:`backtests.engine.kernel.fill_bar`, the one place that shift lives); see
docs/backtesting.md for costs, exits, risk rules and metrics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.engine.config import BacktestConfig
from backtests.engine.data import (
    FinerBars,
    PreparedBars,
    prepare_bars,
    prepare_finer,
    prepare_signals,
)
from backtests.engine.driver import simulate
from backtests.engine.kernel import fill_bar
from backtests.engine.result import TRADE_COLUMNS, BacktestResult, build_result

__all__ = [
    "TRADE_COLUMNS", "BacktestConfig", "BacktestResult", "FinerBars", "PreparedBars",
    "fill_bar", "prepare_bars", "prepare_finer", "run_backtest",
]


def run_backtest(bars: pd.DataFrame | PreparedBars, signals: np.ndarray | pd.Series,
                 config: BacktestConfig, *,
                 confidence: np.ndarray | pd.Series | None = None,
                 finer_bars: pd.DataFrame | PreparedBars | FinerBars | None = None,
                 ) -> BacktestResult:
    """Backtest ``signals`` on ``bars`` under ``config``. Pure and deterministic.

    ``bars``: the project's bars frame (UTC ``DatetimeIndex`` of bar open times, float
    ``open high low close``, optional ``spread`` in points) or :func:`prepare_bars` of it (to
    reuse the checks, arrays and ATR across runs). ``signals``: one per bar, +1 BUY, -1 SELL,
    0 HOLD, decided at that bar's close. ``confidence``: optional, one per bar (recorded on
    the trades; below ``config.min_confidence`` a signal counts as HOLD). ``finer_bars``:
    optional lower-timeframe bars (e.g. M1 for an H1 backtest) that decide which of SL and TP
    a bar touching both reached first (without them: the SL).

    Raises ``DataError`` for bad bars or signals (naming the row and column).
    """
    prepared = prepare_bars(bars)
    sig, conf = prepare_signals(signals, prepared, confidence, config.min_confidence)
    raw = simulate(prepared, sig, config, prepare_finer(prepared, finer_bars))
    return build_result(raw, prepared, config, conf)
