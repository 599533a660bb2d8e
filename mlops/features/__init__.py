"""Feature engineering of NusaTrade: bars -> causal, scale-free features (pure: no Django).

Public API::

    compute_features(bars) -> DataFrame          all rows, FEATURE_COLUMNS, NaN in warm-up
    compute_latest_features(bars, n_last=1)      last rows from the last LOOKBACK_BARS bars
    valid_rows(features) -> Series[bool]         rows past every warm-up
    FEATURE_SET_NAME, FEATURE_COLUMNS, FEATURE_SET_HASH, feature_set_id(day_boundary)
    WARMUP_BARS, LOOKBACK_BARS, DAY_BOUNDARY ("ny17"), DAY_BOUNDARIES
    CODE_MODULES                                 what the model fingerprint hashes

The rules (causality, the higher-timeframe join, warm-up, lookback) are in docs/ml-features.md.
"""

from __future__ import annotations

from marketdata.calendar import DAY_BOUNDARIES
from mlops.features.compute import compute_features, valid_rows
from mlops.features.live import LOOKBACK_BARS, compute_latest_features
from mlops.features.spec import (
    DAY_BOUNDARY,
    FEATURE_COLUMNS,
    FEATURE_FAMILIES,
    FEATURE_SET_HASH,
    FEATURE_SET_NAME,
    PARAMS_VERSION,
    feature_set_hash,
    feature_set_id,
)
from mlops.features.warmup import WARMUP_BARS

# Every module whose code computes a column (the model fingerprint hashes each definition in
# them; a test checks that every project module the package imports is listed or excused).
CODE_MODULES: tuple[str, ...] = (
    "marketdata.calendar",
    "marketdata.timeframes",
    "mlops.features.bars",
    "mlops.features.calendar_features",
    "mlops.features.compute",
    "mlops.features.h1",
    "mlops.features.htf",
    "mlops.features.kernels",
    "mlops.features.live",
    "mlops.features.regime",
    "mlops.features.spec",
    "mlops.features.warmup",
)

__all__ = [
    "CODE_MODULES",
    "DAY_BOUNDARIES",
    "DAY_BOUNDARY",
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
