"""Live performance figures of a model or an account (pure: no Django imports).

The trade figures are the backtester's (``backtests.metrics``: a trade wins when its net P/L
is > 0, profit factor, expectancy, drawdown, Sharpe), applied to closed live positions, so a
live figure and its backtest figure mean the same thing. What is live-specific lives here:

- **Sharpe** uses daily returns of the realised balance (closed trades only), one value per
  weekday of the window (a day without a close repeats the balance), annualised with
  ``sqrt(260)``; the backtest's uses per-bar marked-to-market equity, so the two agree in
  expectation, not to the digit.
- **Max drawdown** is measured on the balance after each closed trade (from the balance at
  the start of the window).
- **Consecutive losses** is the current streak (trailing trades with net P/L <= 0), the number
  the kill switch reads; ``longest_losing_streak`` is the worst one in the window.
- **Exposure** is the percent of the window's time with at least one position open.
- **Signals**: coverage (share of BUY/SELL), HOLD share, average confidence (probability of
  the chosen decision), and the hit rate of BUY/SELL signals against the realised direction
  of the NEXT bar (the bar the trade would be filled in: decided at bar t's close, filled at
  t+1's open), with a Wilson interval.
- **Consistency**: the probability, under the backtest's win rate (hit rate), of a live
  result as bad as or worse than the one observed (binomial lower tail). Below ``alpha`` the
  live result is not consistent with the backtest: "worse than the backtest" is a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtests import metrics

DAYS_WINDOWS = (7, 30, 90)
TRADE_WINDOWS = (20, 50)
DAYS_PER_YEAR_TRADED = 260  # weekdays: the forex week
DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class Trades:
    """Closed trades in closing order: entry and exit times (UTC) and net P/L."""

    entry: pd.DatetimeIndex
    exit: pd.DatetimeIndex
    net: np.ndarray

    @classmethod
    def from_rows(cls, rows: list[tuple[Any, Any, float]]) -> Trades:
        rows = sorted(rows, key=lambda r: r[1])
        return cls(pd.DatetimeIndex([r[0] for r in rows], tz="UTC"),
                   pd.DatetimeIndex([r[1] for r in rows], tz="UTC"),
                   np.array([float(r[2]) for r in rows], dtype=np.float64))

    def __len__(self) -> int:
        return len(self.net)

    def select(self, mask: np.ndarray) -> Trades:
        return Trades(self.entry[mask], self.exit[mask], self.net[mask])


def current_losing_streak(net: np.ndarray) -> int:
    """Trailing trades with net P/L <= 0 (the backtester's definition of a loss)."""
    wins = np.flatnonzero(np.asarray(net) > 0)
    return int(len(net) - (wins[-1] + 1)) if len(wins) else len(net)


def exposure_pct(entries: pd.DatetimeIndex, exits: pd.DatetimeIndex, start: pd.Timestamp,
                 end: pd.Timestamp) -> float:
    """Percent of ``[start, end]`` covered by the union of the positions' open intervals
    (``NaT`` exit: still open at ``end``)."""
    total = (end - start).total_seconds()
    if total <= 0 or not len(entries):
        return 0.0
    spans = sorted((max(a, start), min(end if pd.isna(b) else b, end))
                   for a, b in zip(entries, exits, strict=True))
    covered, reach = 0.0, start
    for a, b in spans:
        a = max(a, reach)
        if b > a:
            covered += (b - a).total_seconds()
            reach = b
    return covered / total * 100.0


def daily_balance(trades: Trades, opening: float, start: pd.Timestamp,
                  end: pd.Timestamp) -> np.ndarray:
    """Realised balance at the end of each weekday in ``[start, end]`` (and of any other day
    with a close)."""
    days = pd.bdate_range(start.normalize(), end.normalize(), tz="UTC")
    close_days = trades.exit.normalize()
    days = days.union(pd.DatetimeIndex(close_days.unique())) if len(trades) else days
    if not len(days):
        return np.array([opening])
    pnl = pd.Series(trades.net, index=close_days).groupby(level=0).sum()
    return opening + pnl.reindex(days, fill_value=0.0).cumsum().to_numpy(np.float64)


def trade_figures(trades: Trades, *, opening: float, start: pd.Timestamp,
                  end: pd.Timestamp) -> dict[str, Any]:
    """The trade figures of one window; ``opening`` is the balance when it starts."""
    stats = metrics.trade_stats(trades.net)
    balance = opening + np.cumsum(trades.net)
    dd_money, dd_pct = (metrics.drawdowns(balance, opening) if len(balance)
                        else (np.zeros(1), np.zeros(1)))
    days = daily_balance(trades, opening, start, end)
    sharpe = metrics.sharpe(metrics.bar_returns(days, opening), DAYS_PER_YEAR_TRADED)
    return {
        "trades": stats["trades"], "wins": stats["wins"], "losses": stats["losses"],
        "win_rate": stats["win_rate"], "profit_factor": stats["profit_factor"],
        "net_pnl": stats["net_profit"], "expectancy": stats["expectancy"],
        "sharpe": sharpe,
        "max_drawdown": round(float(dd_money.max()), 2),
        "max_drawdown_pct": float(dd_pct.max()),
        "consecutive_losses": current_losing_streak(trades.net),
        "longest_losing_streak": stats["longest_losing_streak"],
        "exposure_pct": exposure_pct(trades.entry, trades.exit, start, end),
        "start": start.isoformat(), "end": end.isoformat(),
    }


def windows(trades: Trades, *, initial: float, end: pd.Timestamp,
            since: pd.Timestamp | None = None) -> dict[str, dict[str, Any]]:
    """All time, the last 7/30/90 days and the last 20/50 trades, as of ``end``.

    ``trades`` are those closed up to ``end``; the balance at a window's start is ``initial``
    plus the P/L of the trades closed before it."""
    first = since if since is not None else (trades.entry.min() if len(trades) else end)
    out = {"all": trade_figures(trades, opening=initial, start=min(first, end), end=end)}
    for days in DAYS_WINDOWS:
        start = end - pd.Timedelta(days=days)
        inside = np.asarray(trades.exit > start)
        before = float(trades.net[~inside].sum())
        out[f"{days}d"] = trade_figures(trades.select(inside), opening=initial + before,
                                        start=start, end=end)
    for count in TRADE_WINDOWS:
        cut = max(0, len(trades) - count)
        inside = np.arange(len(trades)) >= cut
        start = trades.entry[inside].min() if inside.any() else end
        out[f"last{count}"] = trade_figures(trades.select(inside),
                                            opening=initial + float(trades.net[:cut].sum()),
                                            start=min(start, end), end=end)
    return out


def next_bar_direction(signal_times: pd.DatetimeIndex, bar_times: pd.DatetimeIndex,
                       opens: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """+1 / -1 / 0 for the bar after each signal's bar (close vs open: the bar a trade on the
    signal is filled in), NaN when that bar is not stored yet."""
    idx = np.searchsorted(bar_times.asi8, signal_times.asi8, side="right")
    out = np.full(len(signal_times), np.nan)
    known = idx < len(bar_times)
    out[known] = np.sign(closes[idx[known]] - opens[idx[known]])
    return out


def signal_figures(decisions: np.ndarray, confidence: np.ndarray,
                   realised: np.ndarray) -> dict[str, Any]:
    """Coverage, HOLD share, average confidence and the hit rate of BUY/SELL signals."""
    from mlops.stats import wilson_interval

    decisions = np.asarray(decisions, dtype=object)
    n = len(decisions)
    traded = decisions != "HOLD"
    direction = np.where(decisions == "BUY", 1.0, np.where(decisions == "SELL", -1.0, 0.0))
    judged = traded & ~np.isnan(realised)
    hits = int((direction[judged] == realised[judged]).sum())
    conf = np.asarray(confidence, dtype=np.float64)
    return {
        "signals": n,
        "coverage": float(traded.mean()) if n else None,
        "hold_share": float((~traded).mean()) if n else None,
        "avg_confidence": float(np.nanmean(conf)) if np.isfinite(conf).any() else None,
        "hits": hits, "judged": int(judged.sum()),
        "hit_rate": wilson_interval(hits, int(judged.sum())),
    }


def binomial_consistency(successes: int, n: int, expected: float | None,
                         alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """P(X <= successes) for X ~ Binomial(n, expected): how likely a result this bad (or
    worse) is if the live rate were the backtest's. None when there is nothing to compare."""
    if expected is None or not n or not math.isfinite(expected):
        return {"observed": None if not n else successes / n, "expected": expected, "n": n,
                "p_value": None, "consistent": None, "alpha": alpha}
    from scipy.stats import binom

    p_value = float(binom.cdf(successes, n, expected))
    return {"observed": successes / n, "expected": expected, "n": n, "p_value": p_value,
            "consistent": p_value >= alpha, "alpha": alpha}


def versus_backtest(live: dict[str, Any], signals: dict[str, Any],
                    expected: dict[str, Any], alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """Each live figure beside the backtest's, with the binomial tests of the win rate and
    of the signal hit rate."""
    keys = ("win_rate", "profit_factor", "expectancy", "sharpe", "max_drawdown_pct")
    return {
        "figures": {k: {"live": live.get(k), "backtest": expected.get(k)} for k in keys},
        "win_rate_test": binomial_consistency(live["wins"], live["trades"],
                                              expected.get("win_rate"), alpha),
        "hit_rate_test": binomial_consistency(signals["hits"], signals["judged"],
                                              expected.get("hit_rate"), alpha),
        "source": expected.get("source"),
    }


def json_safe(value: Any) -> Any:
    """NaN and infinities as None, recursively (jsonb refuses them)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
