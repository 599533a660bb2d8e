"""Parameter sweeps over the backtest engine (pure: no Django imports).

``run_sweep`` runs one backtest per combination of a grid and returns one row per run with
its key metrics. The bars are checked and converted once, ATR is computed once per period and
the signals once per threshold, so a 40-run grid over 123k bars takes a fraction of a second.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np
import pandas as pd

from backtests.engine import BacktestConfig, run_backtest
from backtests.engine.data import PreparedBars, prepare_bars, prepare_finer
from backtests.evidence import daily_returns
from nusatrade.errors import ConfigurationError

SWEEP_METRICS = (
    "trades", "win_rate", "profit_factor", "net_profit", "return_pct", "cagr_pct",
    "max_drawdown_pct", "sharpe", "sortino", "calmar", "expectancy", "total_costs", "halts",
)
SignalSource = np.ndarray | pd.Series | Callable[[float | None], Any]
_CONFIG_FIELDS = frozenset(f.name for f in fields(BacktestConfig))


def signals_from_proba(proba: np.ndarray | pd.Series,
                       threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Signals and confidence from P(price goes up): BUY when ``p >= threshold`` (and above
    0.5), SELL when ``p <= 1 - threshold`` (and below 0.5), HOLD otherwise; the confidence is
    the probability of the side taken, ``max(p, 1 - p)``."""
    if not 0.5 <= threshold <= 1.0:
        raise ConfigurationError("threshold must be between 0.5 and 1")
    p = np.asarray(proba, dtype=np.float64)
    buy = (p >= threshold) & (p > 0.5)
    sell = (p <= 1.0 - threshold) & (p < 0.5)
    return buy.astype(np.int8) - sell.astype(np.int8), np.maximum(p, 1.0 - p)


def run_sweep(bars: pd.DataFrame | PreparedBars, source: SignalSource,
              grid: Mapping[str, Sequence[Any]], base: BacktestConfig | None = None, *,
              metrics: Sequence[str] = SWEEP_METRICS,
              finer_bars: pd.DataFrame | None = None,
              daily_returns_into: list[np.ndarray] | None = None) -> pd.DataFrame:
    """One backtest per combination of ``grid``; a row each with the grid values and
    ``metrics``.

    ``grid`` maps ``BacktestConfig`` field names (``spread``, ``slippage``, in price units)
    and optionally ``threshold`` to the values to try. ``source`` gives the signals: with a
    ``threshold`` in the grid, an array of P(up) (see :func:`signals_from_proba`) or a callable
    ``threshold -> signals`` or ``-> (signals, confidence)``; without one, a signals array or
    a callable called with ``None``. ``finer_bars``: see :func:`run_backtest`.
    ``daily_returns_into``: a list that receives each run's daily equity returns, in row order
    (what the Deflated Sharpe and PBO need: :mod:`backtests.evidence`).
    """
    _validate_grid(grid)
    prepared = prepare_bars(bars)
    finer = prepare_finer(prepared, finer_bars)
    base = base or BacktestConfig()
    signals_for = _signal_cache(source, "threshold" in grid)
    keys = list(grid)
    rows = []
    for combo in itertools.product(*(grid[key] for key in keys)):
        params = dict(zip(keys, combo, strict=True))
        sig, confidence = signals_for(params.get("threshold"))
        config = replace(base, **{k: v for k, v in params.items() if k != "threshold"})
        result = run_backtest(prepared, sig, config, confidence=confidence, finer_bars=finer)
        rows.append({**params, **{name: result.metrics[name] for name in metrics}})
        if daily_returns_into is not None:
            daily_returns_into.append(daily_returns(result.equity, config.initial_equity))
    return pd.DataFrame(rows, columns=[*keys, *metrics])


def _validate_grid(grid: Mapping[str, Sequence[Any]]) -> None:
    unknown = set(grid) - _CONFIG_FIELDS - {"threshold"}
    if unknown:
        raise ConfigurationError(f"unknown sweep parameters {sorted(unknown)}; use "
                                 "BacktestConfig fields or 'threshold'")
    empty = [key for key, values in grid.items() if len(values) == 0]
    if empty:
        raise ConfigurationError(f"sweep parameters without values: {empty}")


def _signal_cache(source: SignalSource,
                  thresholded: bool) -> Callable[[float | None], tuple[Any, Any]]:
    cache: dict[float | None, tuple[Any, Any]] = {}

    def signals_for(threshold: float | None) -> tuple[Any, Any]:
        if threshold not in cache:
            if callable(source):
                made = source(threshold)
                cache[threshold] = made if isinstance(made, tuple) else (made, None)
            elif thresholded:
                cache[threshold] = signals_from_proba(source, float(threshold))
            else:
                cache[threshold] = (source, None)
        return cache[threshold]

    return signals_for
