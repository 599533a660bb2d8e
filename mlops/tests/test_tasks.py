"""Celery tasks on a REAL worker (``celery -A nusatrade worker --pool=solo``)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from celery.result import EagerResult

from mlops import services
from mlops.models import FeatureSnapshot, MLModel, Prediction
from mlops.tasks import TASK_OPTIONS, compute_features, predict
from mlops.tests.factories import lookahead_checked


def test_tasks_ack_late_and_are_redelivered_when_the_worker_dies() -> None:
    for task in (compute_features, predict):
        assert task.acks_late is True and task.reject_on_worker_lost is True
    assert TASK_OPTIONS["max_retries"] == 3


@pytest.mark.services("postgres", "redis", "celery")
def test_compute_features_task_on_a_real_worker_stores_one_snapshot(
        celery_worker: str, stored_bars: pd.DataFrame) -> None:
    first = compute_features.apply_async(args=["XAUUSD", "H1"], queue=celery_worker)
    assert not isinstance(first, EagerResult)  # sent to the worker, not run in this process
    result: dict[str, Any] = first.get(timeout=180)
    again = compute_features.apply_async(args=["XAUUSD", "H1"], queue=celery_worker)
    assert again.get(timeout=60) == result  # the rerun is a no-op
    snapshot = FeatureSnapshot.objects.get()
    assert result["snapshot"] == snapshot.pk and snapshot.valid
    assert snapshot.bar_time == stored_bars.index[-1]


@pytest.mark.services("postgres", "redis", "celery")
def test_predict_task_on_a_real_worker_stores_the_active_models_decision_once(
        celery_worker: str, trained_model: MLModel, stored_bars: pd.DataFrame) -> None:
    services.model_activate(lookahead_checked(trained_model), None, "task test")
    result = predict.apply_async(args=["XAUUSD", "H1"], queue=celery_worker).get(timeout=180)
    rerun = predict.apply_async(args=["XAUUSD", "H1"], queue=celery_worker).get(timeout=60)
    prediction = Prediction.objects.get()
    assert result == rerun
    assert result["prediction"] == prediction.pk and result["model"] == trained_model.pk
    assert prediction.bar_time == stored_bars.index[-1]
    assert result["decision"] == prediction.get_decision_display()
    assert 0.0 <= prediction.proba_up <= 1.0


@pytest.mark.services("postgres", "redis", "celery")
def test_predict_task_without_an_active_model_reports_it(celery_worker: str,
                                                         stored_bars: pd.DataFrame) -> None:
    result = predict.apply_async(args=["XAUUSD", "H1"], queue=celery_worker).get(timeout=180)
    assert result == {"status": "no active model", "prediction": None}
    assert Prediction.objects.count() == 0
