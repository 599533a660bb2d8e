"""Algorithms: what they build, reproducibility, and no shuffled validation inside them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier

from mlops.algorithms import (
    ALGORITHMS,
    build_estimator,
    calibrate,
    machine_cores,
    resolve_params,
    single_threaded,
)

SMALL = {"random_forest": {"n_estimators": 20, "max_depth": 4},
         "gradient_boosting": {"max_iter": 20},
         "ensemble": {"rf": {"n_estimators": 20, "max_depth": 4}, "gb": {"max_iter": 20}}}


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(1500, 4))
    return X, np.where(X[:, 0] + rng.normal(size=1500) > 0, 1, -1)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_same_seed_same_model_whatever_the_number_of_cores(name: str) -> None:
    X, y = data()
    a = single_threaded(build_estimator(name, SMALL[name], n_jobs=2, seed=5).fit(X, y))
    b = single_threaded(build_estimator(name, SMALL[name], n_jobs=1, seed=5).fit(X, y))
    # Identical trees; prediction summed in one order, so bit-identical probabilities.
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_gradient_boosting_never_uses_its_shuffled_early_stopping_split() -> None:
    estimator = build_estimator("gradient_boosting", {"max_iter": 5})
    assert isinstance(estimator, HistGradientBoostingClassifier)
    assert estimator.early_stopping is False


def test_ensemble_is_a_soft_vote_of_forest_and_boosting() -> None:
    estimator = build_estimator("ensemble", SMALL["ensemble"], n_jobs=2)
    assert isinstance(estimator, VotingClassifier) and estimator.voting == "soft"
    assert [name for name, _ in estimator.estimators] == ["rf", "gb"]
    assert estimator.estimators[0][1].n_jobs == 2


def test_default_n_jobs_is_every_core() -> None:
    assert build_estimator("random_forest").n_jobs == machine_cores() >= 1


def test_params_override_the_defaults() -> None:
    params = resolve_params("ensemble", {"rf": {"max_depth": 3}})
    assert params["rf"]["max_depth"] == 3 and params["rf"]["n_estimators"] == 200
    assert params["gb"]["max_iter"] == 200


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        build_estimator("xgboost")


def test_calibration_on_later_data_keeps_classes_and_probabilities_valid() -> None:
    X, y = data()
    fitted = build_estimator("random_forest", SMALL["random_forest"]).fit(X[:1000], y[:1000])
    calibrated = calibrate(fitted, X[1000:], y[1000:])
    proba = calibrated.predict_proba(X[:10])
    assert list(calibrated.classes_) == [-1, 1]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_single_threaded_reaches_fitted_sub_estimators() -> None:
    X, y = data()
    ensemble = build_estimator("ensemble", SMALL["ensemble"], n_jobs=2).fit(X, y)
    single_threaded(ensemble)
    assert ensemble.n_jobs == 1 and ensemble.named_estimators_["rf"].n_jobs == 1
