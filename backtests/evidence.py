"""How much to believe a backtest (pure: no Django imports): intervals, Deflated Sharpe, PBO.

- **Intervals**: win rate, profit factor and expectancy of the closed trades, and the
  annualised Sharpe of the daily equity returns, each with a 95% moving-block bootstrap
  interval (``mlops.stats``): blocks of consecutive trades or days keep the serial dependence
  a plain bootstrap would ignore.
- **Deflated Sharpe Ratio** (Bailey & Lopez de Prado 2014): the probability that the run's
  true Sharpe is above zero once the number of configurations tried on the same period (the
  sweep's grid) is accounted for: the best of N noise strategies looks good by chance.
- **PBO** (probability of backtest overfitting, CSCV): over the sweep's configurations, how
  often the in-sample best is below the out-of-sample median. Needs a sweep (at least two
  configurations); ``None`` otherwise.

Returns are per UTC day (the equity at each day's last bar close over the previous day's),
so every configuration of a sweep shares the same periods.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from mlops import stats

DAYS_PER_YEAR = 260  # forex trading days (52 x 5), as the H1 bars-per-year count


def daily_returns(equity: pd.Series, initial: float) -> np.ndarray:
    """Return of each UTC day's closing equity over the previous day's (the first over the
    initial equity); 0 once the equity is at or below zero."""
    daily = equity.resample("D").last().dropna().to_numpy(np.float64)
    previous = np.concatenate(([initial], daily[:-1]))
    safe = np.where(previous > 0, previous, 1.0)
    return np.where(previous > 0, daily / safe - 1.0, 0.0)


def run_intervals(net_pnl: np.ndarray, returns: np.ndarray,
                  confidence: float = stats.DEFAULT_CONFIDENCE) -> dict[str, dict[str, Any]]:
    """Win rate, profit factor, expectancy (per trade) and annualised daily Sharpe, each with
    its block-bootstrap interval."""
    out = stats.trade_intervals(net_pnl, confidence=confidence)
    out.pop("sharpe")  # per-trade Sharpe: the daily one below is the comparable figure
    daily = stats.trade_intervals(returns, confidence=confidence)["sharpe"]
    scale = math.sqrt(DAYS_PER_YEAR)
    out["sharpe"] = {**daily, **{key: (None if daily[key] is None else daily[key] * scale)
                                 for key in ("estimate", "low", "high")},
                     "basis": "daily returns, annualised x sqrt(260)"}
    return out


def overfitting(run_returns: np.ndarray, sweep_returns: list[np.ndarray] | None,
                on_grid: bool = True,
                confidence: float = stats.DEFAULT_CONFIDENCE) -> dict[str, Any]:
    """Deflated Sharpe of the run given the configurations tried, and PBO over them.

    ``sweep_returns``: daily returns of each sweep configuration (same days as the run);
    ``on_grid``: whether the run's own configuration is one of them (else it counts as one
    more trial).
    """
    matrix = None
    trials = 1
    trial_sharpes = None
    if sweep_returns:
        matrix = np.column_stack(sweep_returns)
        trial_sharpes = stats.sharpe(matrix.T)
        trials = matrix.shape[1] + (0 if on_grid else 1)
    dsr = stats.deflated_sharpe(run_returns, trials=trials, trial_sharpes=trial_sharpes,
                                confidence=confidence)
    pbo = stats.pbo_cscv(matrix) if matrix is not None else {
        "pbo": None, "reason": "no sweep: PBO needs the configurations tried (run --sweep)"}
    return {"deflated_sharpe": dsr.to_dict(), "pbo": pbo}


def evidence(net_pnl: np.ndarray, equity: pd.Series, initial: float,
             sweep_returns: list[np.ndarray] | None = None, on_grid: bool = True,
             confidence: float = stats.DEFAULT_CONFIDENCE) -> dict[str, Any]:
    """Everything above for one run: ``intervals``, ``deflated_sharpe`` and ``pbo``."""
    returns = daily_returns(equity, initial)
    return {"intervals": run_intervals(net_pnl, returns, confidence),
            **overfitting(returns, sweep_returns, on_grid, confidence)}
