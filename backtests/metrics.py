"""Performance metrics of a backtest (pure: no Django imports). Formulas: docs/backtesting.md.

Conventions: money in the account currency; names ending in ``_pct`` are percent (12.5 =
12.5 %), ``win_rate`` is a fraction (0.42); a trade wins when its net P/L is > 0, otherwise it
is a loss (the kill switches count the same way). Undefined values are NaN (no trades, a flat
equity curve); a profit factor without losing trades is infinite. :func:`json_safe` maps both
to ``None`` for storage.

Sharpe and Sortino use the per-bar returns of the equity curve (marked to market at every
bar's close) annualised with ``sqrt(bars_per_year)``, the bars of the timeframe in a forex
year (H1: 52 x 5 x 24 = 6,240), with a zero risk-free rate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numba import njit

# Exits inside a bar (or at its close): the position was exposed during the exit bar too.
_INTRABAR_EXITS = ("stop_loss", "take_profit", "end_of_data", "stop_out")
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


def compute_metrics(trades: pd.DataFrame, equity: pd.Series, *, initial_equity: float,
                    bars_per_year: float, bar_duration: pd.Timedelta,
                    open_prices: np.ndarray | None = None,
                    close_prices: np.ndarray | None = None) -> dict[str, float]:
    """All metrics of one backtest from its trade table and per-bar equity (hot path).

    ``trades`` needs ``net_pnl``, ``bars_held``, ``exit_reason`` and the cost columns
    ``spread_cost slippage_cost commission swap``; ``equity`` is indexed by bar open time.
    The buy-and-hold benchmark needs the first open and the last close of the period.
    """
    net = trades["net_pnl"].to_numpy(np.float64)
    values = equity.to_numpy(np.float64)
    years = _years(equity.index, bar_duration)
    metrics = _trade_stats(net)
    metrics.update(_equity_stats(values, initial_equity, bars_per_year, years))
    metrics.update(_cost_stats(trades))
    metrics["exposure_pct"] = exposure_pct(trades, len(values))
    metrics["avg_bars_held"] = float(trades["bars_held"].mean()) if len(net) else math.nan
    metrics["trades_per_month"] = len(net) / (years * DAYS_PER_YEAR / DAYS_PER_MONTH)
    if open_prices is not None and close_prices is not None:
        metrics["buy_hold_return_pct"] = (float(close_prices[-1]) / float(open_prices[0])
                                          - 1.0) * 100.0
    return metrics


def _years(index: pd.DatetimeIndex, bar_duration: pd.Timedelta) -> float:
    """Length of the period: first bar's open to last bar's close, in years of 365.25 days."""
    span = (index[-1] + bar_duration) - index[0]
    return span / pd.Timedelta(days=1) / DAYS_PER_YEAR


def trade_stats(net: np.ndarray) -> dict[str, float]:
    """Trade counts, win rate, profit factor, expectancy... of net P/Ls in closing order (the
    live performance tracker, ``monitoring.tracker``, uses the same definitions)."""
    return _trade_stats(np.asarray(net, dtype=np.float64))


def _trade_stats(net: np.ndarray) -> dict[str, float]:
    count = len(net)
    wins, losses = net[net > 0], net[net <= 0]
    gross_profit, gross_loss = float(wins.sum()), float(-losses.sum())
    return {
        "trades": count,
        "wins": len(wins),
        "losses": len(losses),
        "win_rate": len(wins) / count if count else math.nan,
        "gross_profit": round(gross_profit, 2),
        "gross_loss": round(gross_loss, 2),
        "net_profit": round(float(net.sum()), 2),
        "profit_factor": profit_factor(gross_profit, gross_loss),
        "expectancy": float(net.mean()) if count else math.nan,
        "avg_win": float(wins.mean()) if len(wins) else math.nan,
        "avg_loss": float(losses.mean()) if len(losses) else math.nan,
        "largest_win": float(wins.max()) if len(wins) else math.nan,
        "largest_loss": float(losses.min()) if len(losses) else math.nan,
        "longest_losing_streak": longest_losing_streak(net),
    }


def profit_factor(gross_profit: float, gross_loss: float) -> float:
    """Gross profit / gross loss: infinite without losses, NaN without either."""
    if gross_loss > 0:
        return gross_profit / gross_loss
    return math.inf if gross_profit > 0 else math.nan


def longest_losing_streak(net: np.ndarray) -> int:
    """Most consecutive trades with net P/L <= 0."""
    losing = np.concatenate(([False], net <= 0, [False])).astype(np.int8)
    edges = np.diff(losing)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if len(starts) else 0


def _equity_stats(values: np.ndarray, initial: float, bars_per_year: float,
                  years: float) -> dict[str, float]:
    final = float(values[-1])
    max_dd, max_dd_pct, mean, std, downside = _equity_pass(values, initial)
    cagr = cagr_pct(initial, final, years)
    root = math.sqrt(bars_per_year)
    return {
        "initial_equity": initial,
        "final_equity": round(final, 2),
        "return_pct": (final / initial - 1.0) * 100.0 if initial > 0 else math.nan,
        "cagr_pct": cagr,
        "max_drawdown": round(max_dd, 2),
        "max_drawdown_pct": max_dd_pct,
        "sharpe": mean / std * root if std > 0 else math.nan,
        "sortino": mean / downside * root if downside > 0 else math.nan,
        "calmar": cagr / max_dd_pct if max_dd_pct > 0 else math.nan,
        "bars_per_year": bars_per_year,
        "years": years,
    }


@njit(cache=True)
def _equity_pass(values: np.ndarray, initial: float) -> tuple[float, float, float, float, float]:
    """One pass over the equity curve (hot path): max drawdown (money, percent) and the mean,
    sample standard deviation and downside deviation of the per-bar returns; the same
    definitions as :func:`drawdowns`, :func:`bar_returns`, :func:`sharpe`, :func:`sortino`."""
    n = values.shape[0]
    peak, previous = initial, initial
    max_dd = max_dd_pct = total = downside = 0.0
    for j in range(n):
        peak = max(peak, values[j])
        max_dd = max(max_dd, peak - values[j])
        max_dd_pct = max(max_dd_pct, _ratio(peak - values[j], peak) * 100.0)
        r = _bar_return(values[j], previous)
        total += r
        downside += min(r, 0.0) ** 2
        previous = values[j]
    mean = total / n if n else 0.0
    squares, previous = 0.0, initial
    for j in range(n):  # second pass: the two-pass variance is the numerically stable one
        r = _bar_return(values[j], previous)
        squares += (r - mean) ** 2
        previous = values[j]
    std = math.sqrt(squares / (n - 1)) if n > 1 else 0.0
    return max_dd, max_dd_pct, mean, std, math.sqrt(downside / n)


@njit(cache=True, inline="always")
def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0.0 else 0.0


@njit(cache=True, inline="always")
def _bar_return(value: float, previous: float) -> float:
    """Return over the previous equity; 0 once the account is at or below zero (nothing left
    to earn a return on; a stop-out usually prevents it, a gap may not)."""
    return value / previous - 1.0 if previous > 0.0 else 0.0


@njit(cache=True)
def drawdowns(values: np.ndarray, initial: float) -> tuple[np.ndarray, np.ndarray]:
    """Drawdown per bar below the running peak (which starts at ``initial``): money, percent
    (hot path)."""
    money = np.empty_like(values)
    pct = np.empty_like(values)
    peak = initial
    for j in range(values.shape[0]):
        peak = max(peak, values[j])
        money[j] = peak - values[j]
        pct[j] = _ratio(money[j], peak) * 100.0
    return money, pct


def bar_returns(values: np.ndarray, initial: float) -> np.ndarray:
    """Simple return of each bar's equity over the previous bar's (the first over initial)."""
    previous = np.concatenate(([initial], values[:-1]))
    safe = np.where(previous > 0, previous, 1.0)
    return np.where(previous > 0, values / safe - 1.0, 0.0)


def sharpe(returns: np.ndarray, periods_per_year: float) -> float:
    """mean / sample std of the returns x sqrt(periods per year); NaN when flat."""
    if len(returns) < 2:
        return math.nan
    std = float(returns.std(ddof=1))
    return float(returns.mean()) / std * math.sqrt(periods_per_year) if std > 0 else math.nan


def sortino(returns: np.ndarray, periods_per_year: float) -> float:
    """mean / downside deviation (root mean square of the negative returns, zeros counted
    as 0, target 0) x sqrt(periods per year); NaN without a negative return."""
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2))) if len(returns) else 0.0
    if downside == 0:
        return math.nan
    return float(returns.mean()) / downside * math.sqrt(periods_per_year)


def cagr_pct(initial: float, final: float, years: float) -> float:
    """Compound annual growth rate in percent; -100 when the account is wiped out."""
    if final <= 0:
        return -100.0
    return ((final / initial) ** (1.0 / years) - 1.0) * 100.0 if years > 0 else math.nan


def exposure_pct(trades: pd.DataFrame, bars: int) -> float:
    """Percent of bars during which a position was open: ``bars_held`` bars per trade, plus
    the exit bar when the exit happened inside it (stops) or at its close (end of data)."""
    if not len(trades) or not bars:
        return 0.0
    intrabar = trades["exit_reason"].isin(_INTRABAR_EXITS).to_numpy()
    exposed = trades["bars_held"].to_numpy().sum() + int(intrabar.sum())
    return float(exposed) / bars * 100.0


def _cost_stats(trades: pd.DataFrame) -> dict[str, float]:
    sums = {name: round(float(trades[name].sum()), 2)
            for name in ("spread_cost", "slippage_cost", "commission", "swap")}
    return {
        "spread_costs": sums["spread_cost"],
        "slippage_costs": sums["slippage_cost"],
        "commissions": sums["commission"],
        "swaps": sums["swap"],
        # Swap is signed (a credit lowers the costs).
        "total_costs": round(sums["spread_cost"] + sums["slippage_cost"] + sums["commission"]
                             - sums["swap"], 2),
    }


def json_safe(metrics: dict[str, float]) -> dict[str, float | int | None]:
    """``metrics`` with NaN and infinities as ``None`` (JSON and PostgreSQL jsonb reject them)."""
    return {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
            for key, value in metrics.items()}
