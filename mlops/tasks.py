"""Celery tasks of the ML app: thin wrappers over services, safe to run twice.

Beat will schedule them once the trading engine exists. ``acks_late`` +
``reject_on_worker_lost``: a worker killed mid-task gets the task redelivered; the services are
idempotent (unique rows per bar), so the rerun is a no-op. Transient database errors are retried
with backoff; bad data (DataError) is not.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from mlops import services

TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 3,
}


@shared_task(name="mlops.compute_features", **TASK_OPTIONS)
def compute_features(symbol: str, timeframe: str) -> dict[str, Any]:
    """Store the features of the latest closed bar of ``symbol``/``timeframe``."""
    snapshot = services.features_snapshot_compute(symbol, timeframe)
    return {"snapshot": snapshot.pk, "bar_time": snapshot.bar_time.isoformat(),
            "valid": snapshot.valid}


@shared_task(name="mlops.predict", **TASK_OPTIONS)
def predict(symbol: str, timeframe: str) -> dict[str, Any]:
    """The active model's decision on the latest closed bar, stored once per bar."""
    prediction = services.prediction_make(symbol, timeframe)
    return {**services.prediction_summary(prediction),
            "prediction": prediction.pk if prediction else None}
