"""``compute_features``: every feature family over a bars frame, in one pass (pure, hot path)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.features import h1, htf
from mlops.features.bars import BarArrays, bar_arrays
from mlops.features.calendar_features import calendar
from mlops.features.regime import regime
from mlops.features.spec import ATR_PERIOD, DAY_BOUNDARY, FEATURE_COLUMNS


def compute_features(bars: pd.DataFrame, day_boundary: str = DAY_BOUNDARY) -> pd.DataFrame:
    """Features of each H1 bar, computed from that bar and earlier bars only.

    ``bars``: UTC DatetimeIndex of H1 open times, float columns ``open high low close
    volume``. Returns one row per input row (same index), columns ``FEATURE_COLUMNS`` in
    order, float64, NaN where an indicator is still warming up (see ``valid_rows``). Row t
    depends only on rows <= t: ``compute_features(bars.iloc[:n])`` equals the first n rows of
    ``compute_features(bars)``. ``day_boundary``: ``"ny17"`` (D1 = the forex day, 17:00 New
    York, DST-aware; H4 counted from it) or ``"utc"`` (bins at UTC midnight); it is part of the
    feature set's identity. Raises ``DataError`` for malformed bars.
    Hot path: the frame is converted to numpy once; the rest is TA-Lib, numpy and numba.
    """
    arrays = bar_arrays(bars)
    matrix = np.empty((len(arrays), len(FEATURE_COLUMNS)), order="F")
    if len(arrays):
        columns = _all_columns(arrays, day_boundary)
        for j, name in enumerate(FEATURE_COLUMNS):
            matrix[:, j] = columns[name]
    return pd.DataFrame(matrix, index=bars.index, columns=FEATURE_COLUMNS, copy=False)


def _all_columns(b: BarArrays, day_boundary: str) -> dict[str, np.ndarray]:
    core = h1.core(b)
    columns: dict[str, np.ndarray] = {}
    for family in (h1.momentum, h1.trend, h1.volatility, h1.volume, h1.candle, h1.returns):
        columns.update(family(b, core))
    columns.update(calendar(b))
    columns.update(regime(columns[f"natr_{ATR_PERIOD}"], core.adx))
    bins = htf.grid(b, day_boundary)
    columns.update(htf.h4_features(b, bins))
    columns.update(htf.d1_features(b, bins))
    return columns


def valid_rows(features: pd.DataFrame) -> pd.Series:
    """True where every feature column is defined (past its warm-up): rows a model may use."""
    values = features[FEATURE_COLUMNS].to_numpy()
    return pd.Series(~np.isnan(values).any(axis=1), index=features.index, name="valid")
