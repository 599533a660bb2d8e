"""Celery tasks of the monitoring app (thin: each calls the service of the same name).

``mlops.track_performance`` keeps the ``mlops.`` name the issue gives it, so the routing sends
it to the training queue: it recomputes features over each active model's training window
and runs the model on its test window (drift), minutes of CPU that must not delay a trading
cycle (trading queue) nor an alert (maintenance queue).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 3,
}


@shared_task(name="mlops.track_performance", **TASK_OPTIONS)
def track_performance(day: str | None = None) -> dict[str, Any]:
    """Store the performance snapshots of ``day`` (ISO date; default yesterday, UTC).
    Idempotent: a rerun of the same day replaces its rows."""
    from monitoring.services import performance_track

    snapshots = performance_track(date.fromisoformat(day) if day else None)
    return {"date": str(snapshots[0].date) if snapshots else day,
            "snapshots": [s.pk for s in snapshots]}


@shared_task(name="mlops.retrain", **TASK_OPTIONS)
def retrain(symbol: str = "XAUUSD", timeframe: str = "H1",
            if_flagged: bool = True) -> dict[str, Any]:
    """One champion/challenger round (the beat runs it with ``if_flagged``)."""
    from monitoring.services.retrain import retrain as service

    run = service(symbol, timeframe, if_flagged=if_flagged)
    return {"run": run.pk if run else None, "decision": run.decision if run else "not flagged"}


@shared_task(name="mlops.retraining_run_promote", **TASK_OPTIONS)
def retraining_run_promote(run_id: int, actor: str) -> dict[str, Any]:
    """Look-ahead check and atomic promotion of an approved run's challenger (queued by the
    dashboard's approval: minutes of CPU that must not run inside a web request). A refusal
    is recorded on the run and ends the task normally; a redelivery changes nothing."""
    from monitoring.services.retrain import retraining_run_promote as service
    from nusatrade.errors import NusaTradeError

    try:
        run = service(run_id, actor=actor)
    except NusaTradeError as exc:
        return {"run": run_id, "decision": "refused", "error": str(exc)}
    return {"run": run.pk, "decision": run.decision}
