"""The learning algorithms: build an estimator that only fits and predicts (no Django).

Data preparation lives in ``pipeline.py``, persistence in ``artifacts.py``, the registry in
``models.py``/``services.py``. Every estimator is a scikit-learn classifier over classes
``[-1, +1]`` with ``predict_proba``.

Choices that matter for honesty:
- HistGradientBoosting's early stopping is OFF: it validates on a *random, shuffled* 10% of the
  training rows, which on a time series scores the model on bars interleaved with its training
  bars. We fix ``max_iter`` instead.
- Calibration (optional) is fitted on a later, chronological validation window through
  ``FrozenEstimator`` (scikit-learn 1.6+ removed ``cv="prefit"``), never by K-fold.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # scikit-learn is imported where used: django.setup() must not pay for it
    from sklearn.base import ClassifierMixin
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

ALGORITHMS = ("random_forest", "gradient_boosting", "ensemble")

RF_DEFAULTS: dict[str, Any] = {
    "n_estimators": 200,
    "max_depth": 10,
    "min_samples_leaf": 50,
    "max_features": "sqrt",
    "max_samples": 0.5,
    "class_weight": "balanced",
}
GB_DEFAULTS: dict[str, Any] = {
    "max_iter": 200,
    "learning_rate": 0.05,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 100,
    "l2_regularization": 1.0,
    "class_weight": "balanced",
}
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "random_forest": RF_DEFAULTS,
    "gradient_boosting": GB_DEFAULTS,
    # The ensemble takes "rf" and "gb" sub-dicts; missing keys fall back to the defaults above.
    "ensemble": {"rf": RF_DEFAULTS, "gb": GB_DEFAULTS},
}

# Lighter presets for ``ml_demo`` and the benchmark: the three algorithms with walk-forward on
# ~130k H1 bars x 100 features in a couple of minutes on 2 cores.
DEMO_RF: dict[str, Any] = {"n_estimators": 60, "max_depth": 6, "min_samples_leaf": 100,
                           "max_samples": 0.2}
DEMO_GB: dict[str, Any] = {"max_iter": 60, "learning_rate": 0.1, "max_leaf_nodes": 15,
                           "max_bins": 63, "min_samples_leaf": 200}
DEMO_PARAMS: dict[str, dict[str, Any]] = {
    "random_forest": DEMO_RF,
    "gradient_boosting": DEMO_GB,
    "ensemble": {"rf": DEMO_RF, "gb": DEMO_GB},
}


def machine_cores() -> int:
    """Cores this process may use (respects CPU affinity, e.g. in containers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def resolve_params(name: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults of ``name`` updated with ``params`` (nested for the ensemble)."""
    _validate_algorithm(name)
    params = dict(params or {})
    if name != "ensemble":
        return {**DEFAULT_PARAMS[name], **params}
    return {
        "rf": {**RF_DEFAULTS, **params.get("rf", {})},
        "gb": {**GB_DEFAULTS, **params.get("gb", {})},
        "weights": params.get("weights", [1, 1]),
    }


def build_estimator(name: str, params: Mapping[str, Any] | None = None,
                    n_jobs: int | None = None, seed: int = 42) -> ClassifierMixin:
    """An unfitted classifier for ``name`` with ``params`` over the defaults.

    ``n_jobs`` (default: all cores) drives the forest; the gradient boosting uses OpenMP threads,
    which the caller bounds with threadpoolctl (see ``pipeline.fit_estimator``).
    """
    from sklearn.ensemble import VotingClassifier

    resolved = resolve_params(name, params)
    n_jobs = n_jobs or machine_cores()
    if name == "random_forest":
        return _forest(resolved, n_jobs, seed)
    if name == "gradient_boosting":
        return _boosting(resolved, seed)
    return VotingClassifier(
        estimators=[("rf", _forest(resolved["rf"], n_jobs, seed)),
                    ("gb", _boosting(resolved["gb"], seed))],
        voting="soft",
        weights=resolved["weights"],
        # Sequential on purpose: the forest already uses every core.
        n_jobs=None,
    )


def single_threaded(estimator: Any) -> Any:
    """Set ``n_jobs=1`` on a fitted estimator and every fitted sub-estimator, in place.

    For prediction only: batches of a few thousand rows (permutation importance) or one row
    (live) ran ~2.5x slower with two joblib threads than with one on 2 busy cores (measured,
    docs/ml-pipeline.md). Fitting keeps every core.
    """
    stack, seen = [estimator], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if hasattr(obj, "n_jobs"):
            obj.n_jobs = 1
        for attr in ("estimator", "estimators_", "calibrated_classifiers_"):
            sub = getattr(obj, attr, None)
            if sub is not None and not isinstance(sub, str):
                stack.extend(sub if isinstance(sub, list) else [sub])
    return estimator


def calibrate(fitted: ClassifierMixin, X: Any, y: Any,
              method: str = "sigmoid") -> CalibratedClassifierCV:
    """Calibrate an already fitted classifier on (later) data it was not trained on."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    return CalibratedClassifierCV(FrozenEstimator(fitted), method=method).fit(X, y)


def _forest(params: Mapping[str, Any], n_jobs: int, seed: int) -> RandomForestClassifier:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(**params, n_jobs=n_jobs, random_state=seed)


def _boosting(params: Mapping[str, Any], seed: int) -> HistGradientBoostingClassifier:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(**params, early_stopping=False, random_state=seed)


def _validate_algorithm(name: str) -> None:
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; use one of {', '.join(ALGORITHMS)}")
