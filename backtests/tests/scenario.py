"""Helpers for the engine's scenario tables: hand-drawn bars and compact trade tuples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from backtests.engine import BacktestResult

MONDAY = pd.Timestamp("2024-03-04 00:00", tz="UTC")
FLAT = (100.0, 100.5, 99.5, 100.0)


def bars(rows: Sequence[tuple[float, float, float, float]], start: pd.Timestamp = MONDAY,
         freq: str = "1h") -> pd.DataFrame:
    """Bars from ``(open, high, low, close)`` rows, hourly from ``start`` (a Monday)."""
    index = pd.date_range(start, periods=len(rows), freq=freq, name="time")
    frame = pd.DataFrame(list(rows), columns=["open", "high", "low", "close"], index=index,
                         dtype=np.float64)
    frame["volume"] = 1.0
    return frame


def trades(result: BacktestResult) -> list[tuple]:
    """(side, entry_bar, exit_bar, entry_price, exit_price, exit_reason) per trade, prices
    rounded to 1e-9 so hand-computed decimals compare."""
    t = result.trades
    return [(side, int(e), int(x), round(float(ep), 9), round(float(xp), 9), str(reason))
            for side, e, x, ep, xp, reason in zip(
                t.side, t.entry_bar, t.exit_bar, t.entry_price, t.exit_price, t.exit_reason,
                strict=True)]


def outcome_bars(outcomes: str, start: pd.Timestamp = MONDAY) -> tuple[pd.DataFrame, np.ndarray]:
    """Bars and signals that make one BUY per letter of ``outcomes``, three bars each:
    W wins and L loses exactly the stop distance (use ``sl_distance=tp_distance=1``).

    Per group: bar 0 signals BUY at its close; bar 1 fills at the open (100) and stays
    quiet; bar 2 reaches 101.5 (take-profit 101) for a W or 98.5 (stop-loss 99) for an L.
    """
    rows, signals = [], []
    for letter in outcomes:
        exit_bar = (100.0, 101.5, 99.5, 100.0) if letter == "W" else (100.0, 100.5, 98.5, 100.0)
        rows += [FLAT, FLAT, exit_bar]
        signals += [1, 0, 0]
    return bars(rows, start), np.array(signals)
