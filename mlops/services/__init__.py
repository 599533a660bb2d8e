"""Writes of the ML app: the registry, training, tuning, checks, and the live predictions.

A package (registry, training, lookahead, live, demo) re-exported here: import from
``mlops.services``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nusatrade.lazy import lazy_exports

if TYPE_CHECKING:
    from mlops.services.demo import (
        DemoResult,
        ml_demo,
    )
    from mlops.services.live import (
        features_snapshot_compute,
        model_predict_latest,
        prediction_make,
        prediction_summary,
    )
    from mlops.services.lookahead import (
        model_check_lookahead,
    )
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

# Each name is imported from its submodule on first use (PEP 562): the admin and the API
# import this package at start-up, and the submodules pull in pandas, numba, scikit-learn.
# ``django.setup()`` and ``manage.py check`` must not pay for them (tests/test_startup.py).
_EXPORTS: dict[str, str] = {
    "DemoResult": "mlops.services.demo",
    "ml_demo": "mlops.services.demo",
    "features_snapshot_compute": "mlops.services.live",
    "model_predict_latest": "mlops.services.live",
    "prediction_make": "mlops.services.live",
    "prediction_summary": "mlops.services.live",
    "model_check_lookahead": "mlops.services.lookahead",
    "ActivationRefused": "mlops.services.registry",
    "audit": "mlops.services.registry",
    "clear_estimator_cache": "mlops.services.registry",
    "model_activate": "mlops.services.registry",
    "model_estimator": "mlops.services.registry",
    "model_identity_changes": "mlops.services.registry",
    "model_identity_verify": "mlops.services.registry",
    "model_register": "mlops.services.registry",
    "model_retire": "mlops.services.registry",
    "TuneOutcome": "mlops.services.training",
    "default_cost": "mlops.services.training",
    "model_train": "mlops.services.training",
    "model_tune_threshold": "mlops.services.training",
}
__all__ = [  # static, for linters and type checkers
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


__getattr__ = lazy_exports(__name__, _EXPORTS)
