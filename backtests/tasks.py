"""Celery tasks of the backtests app: thin wrappers that take ids and call a service."""

from __future__ import annotations

import logging

from celery import shared_task

from nusatrade.errors import DataError

logger = logging.getLogger("nusatrade.backtests")


@shared_task(name="backtests.run_backtest", acks_late=True, reject_on_worker_lost=True)
def run_backtest(run_id: int) -> dict[str, object]:
    """Execute backtest run ``run_id`` (``backtest_run_execute``).

    The service owns idempotency: a redelivered task finds the run already claimed and does
    nothing. A failing backtest ends the run ``failed`` instead of raising, so nothing retries
    a run that cannot succeed; only a lost worker (``reject_on_worker_lost``) redelivers.
    """
    from backtests.services import backtest_run_execute

    try:
        run = backtest_run_execute(int(run_id))
    except DataError:  # deleted before its task ran: nothing to do, nothing to retry
        logger.warning("backtest #%s no longer exists; task dropped", run_id)
        return {"run": run_id, "status": "missing"}
    return {"run": run.pk, "status": run.status}
