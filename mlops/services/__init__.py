"""Writes of the ML app: the registry, training, tuning, checks, and the live predictions.

A package (registry, training, lookahead, live, demo) re-exported here: import from
``mlops.services``.
"""

from __future__ import annotations

from mlops.services.demo import DemoResult, ml_demo
from mlops.services.live import (
    features_snapshot_compute,
    model_predict_latest,
    prediction_make,
    prediction_summary,
)
from mlops.services.lookahead import model_check_lookahead
from mlops.services.registry import (
    ActivationRefused,
    audit,
    clear_estimator_cache,
    model_activate,
    model_estimator,
    model_identity_changes,
    model_identity_verify,
    model_register,
    model_retire,
)
from mlops.services.training import (
    TuneOutcome,
    default_cost,
    model_train,
    model_tune_threshold,
)

__all__ = [
    "ActivationRefused",
    "DemoResult",
    "TuneOutcome",
    "audit",
    "clear_estimator_cache",
    "default_cost",
    "features_snapshot_compute",
    "ml_demo",
    "model_activate",
    "model_check_lookahead",
    "model_estimator",
    "model_identity_changes",
    "model_identity_verify",
    "model_predict_latest",
    "model_register",
    "model_retire",
    "model_train",
    "model_tune_threshold",
    "prediction_make",
    "prediction_summary",
]
