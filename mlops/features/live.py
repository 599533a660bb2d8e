"""Bounded-lookback features for the live cycle: the last rows, equal to full history (pure).

TA-Lib's EMA/Wilder indicators (RSI, ATR, ADX, MACD, EMA; H1 and H4) are recursive: their
value at t depends on where the series starts, through the seed, with an influence that decays
geometrically (by ``1 - alpha`` per bar). ``LOOKBACK_BARS`` is long enough that the seed's
influence on every column is far below 1e-9 relative (measured: docs/ml-features.md,
``bench/bench_features.py --decay``); every other column has finite memory shorter than it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from marketdata.calendar import trading_days
from mlops.features.compute import compute_features
from mlops.features.spec import DAY_BOUNDARY

LOOKBACK_BARS = 3000


def compute_latest_features(bars: pd.DataFrame, n_last: int = 1,
                            day_boundary: str = DAY_BOUNDARY) -> pd.DataFrame:
    """Features of the last ``n_last`` rows of ``bars``, from a bounded window of history.

    Uses the last ``LOOKBACK_BARS + n_last - 1`` bars (so each returned row has at least
    ``LOOKBACK_BARS`` bars of history, less the trim below) and returns the same values as
    ``compute_features`` on the full history, to ~1e-9 relative. The window's first trading day
    (on ``day_boundary``) is dropped when the window starts inside it: a D1 (and H4) bin cut at
    its start would be a different bar from the one the full history saw. Hot path.
    """
    if n_last < 1:
        raise ValueError(f"n_last must be >= 1, not {n_last}")
    need = LOOKBACK_BARS + n_last - 1
    window = (bars if len(bars) <= need
              else from_whole_day(bars.iloc[len(bars) - need:], day_boundary))
    return compute_features(window, day_boundary).iloc[-n_last:]


def from_whole_day(bars: pd.DataFrame, day_boundary: str = DAY_BOUNDARY) -> pd.DataFrame:
    """``bars`` from its first row that starts a trading day, unless it already starts at one."""
    time_ns = bars.index.as_unit("ns").asi8
    start, end = trading_days(time_ns[:1], day_boundary)
    if time_ns[0] == start[0]:
        return bars
    return bars.iloc[int(np.searchsorted(time_ns, end[0])):]
