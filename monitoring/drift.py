"""Drift of live inputs and outputs against the model's own windows (pure: no Django).

Population stability index (PSI) of a feature: bin the REFERENCE sample (the model's
training window) at its deciles, count the share of each sample in each bin and sum
``(live - ref) * ln(live / ref)``. Empty bins get ``EPSILON`` so one empty bin does not make
the index infinite. Usual reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 a large
shift; the limit is configurable (``DRIFT_PSI_LIMIT``, default 0.2).

The same index compares the live distribution of ``proba_up`` with the one the model
produced on its held-out test window.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

BINS = 10
EPSILON = 1e-4
MIN_SAMPLE = 30  # fewer finite values than this on either side: no index (None)
DEFAULT_LIMIT = 0.2


def psi(reference: np.ndarray, live: np.ndarray, bins: int = BINS) -> float | None:
    """Population stability index of ``live`` against ``reference``; None when either has
    fewer than ``MIN_SAMPLE`` finite values or the reference is constant."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(live, dtype=np.float64)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if len(ref) < MIN_SAMPLE or len(cur) < MIN_SAMPLE or ref.min() == ref.max():
        return None
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1))[1:-1])
    ref_share = _shares(ref, edges)
    cur_share = _shares(cur, edges)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"),
                         minlength=len(edges) + 1).astype(np.float64)
    return np.maximum(counts / len(values), EPSILON)


def feature_drift(reference: pd.DataFrame, live: pd.DataFrame, names: list[str],
                  limit: float = DEFAULT_LIMIT) -> dict[str, Any]:
    """PSI per feature, the drifting ones (PSI > ``limit``) and their share of the features
    that could be measured."""
    per_feature: dict[str, float | None] = {}
    for name in names:
        if name in reference and name in live:
            per_feature[name] = psi(reference[name].to_numpy(np.float64),
                                    live[name].to_numpy(np.float64))
        else:
            per_feature[name] = None
    measured = {k: v for k, v in per_feature.items() if v is not None}
    drifting = sorted(k for k, v in measured.items() if v > limit)
    return {"psi": per_feature, "drifting": drifting, "measured": len(measured),
            "share_drifting": len(drifting) / len(measured) if measured else None,
            "limit": limit, "reference_rows": len(reference), "live_rows": len(live),
            "max_psi": max(measured.values()) if measured else None}


def prediction_drift(reference: np.ndarray, live: np.ndarray,
                     limit: float = DEFAULT_LIMIT) -> dict[str, Any]:
    """PSI of the live ``proba_up`` against the test window's, with both means."""
    value = psi(reference, live)

    def _mean(x: np.ndarray) -> float | None:
        x = np.asarray(x, dtype=np.float64)
        x = x[np.isfinite(x)]
        return float(x.mean()) if len(x) else None

    return {"psi": value, "drifting": value is not None and value > limit, "limit": limit,
            "reference_mean": _mean(reference), "live_mean": _mean(live),
            "reference_n": len(reference), "live_n": len(live)}

