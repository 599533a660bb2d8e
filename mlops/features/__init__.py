"""Feature engineering of NusaTrade: bars -> causal, scale-free features (pure: no Django).

Public API::

    compute_features(bars) -> DataFrame          all rows, FEATURE_COLUMNS, NaN in warm-up
    compute_latest_features(bars, n_last=1)      last rows from the last LOOKBACK_BARS bars
    valid_rows(features) -> Series[bool]         rows past every warm-up
    FEATURE_SET_NAME, FEATURE_COLUMNS, FEATURE_SET_HASH, feature_set_id()
    WARMUP_BARS, LOOKBACK_BARS

The rules (causality, the higher-timeframe join, warm-up, lookback) are in docs/ml-features.md.
"""

from __future__ import annotations

from mlops.features.compute import compute_features, valid_rows
from mlops.features.live import LOOKBACK_BARS, compute_latest_features
from mlops.features.spec import (
    FEATURE_COLUMNS,
    FEATURE_FAMILIES,
    FEATURE_SET_HASH,
    FEATURE_SET_NAME,
    PARAMS_VERSION,
    feature_set_hash,
    feature_set_id,
)
from mlops.features.warmup import WARMUP_BARS

__all__ = [
    "FEATURE_COLUMNS",
    "FEATURE_FAMILIES",
    "FEATURE_SET_HASH",
    "FEATURE_SET_NAME",
    "LOOKBACK_BARS",
    "PARAMS_VERSION",
    "WARMUP_BARS",
    "compute_features",
    "compute_latest_features",
    "feature_set_hash",
    "feature_set_id",
    "valid_rows",
]
