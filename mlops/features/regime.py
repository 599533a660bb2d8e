"""Volatility/trend regime: a label usable as a feature and as a trade filter (pure, hot path).

``atr_pct`` is the percentile of NATR among the TRAILING ``REGIME_RANK_WINDOW`` bars (a rolling
rank, never a rank over the whole series, which would leak the future's volatility into the
past). ``regime = regime_volatile + 2 * regime_trend``:

    0 quiet range    1 volatile range    2 quiet trend    3 volatile trend
"""

from __future__ import annotations

import numpy as np

from mlops.features import spec as S
from mlops.features.kernels import rolling_rank

QUIET_RANGE, VOLATILE_RANGE, QUIET_TREND, VOLATILE_TREND = 0, 1, 2, 3


def regime(natr: np.ndarray, adx: np.ndarray) -> dict[str, np.ndarray]:
    pct = rolling_rank(natr, S.REGIME_RANK_WINDOW)
    # NaN comparisons are False: keep NaN until both inputs are defined.
    volatile = np.where(np.isnan(pct), np.nan, (pct > S.REGIME_VOLATILE_PCT).astype(np.float64))
    trend = np.where(np.isnan(adx), np.nan, (adx >= S.REGIME_TREND_ADX).astype(np.float64))
    return {
        f"atr_pct_{S.REGIME_RANK_WINDOW}": pct,
        "regime_volatile": volatile,
        "regime_trend": trend,
        "regime": volatile + 2.0 * trend,
    }
