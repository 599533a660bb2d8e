"""Celery tasks of the trading app. Thin: ids in, one service call, a JSON-safe result out.

The order path (``place_order``, ``recover_orders``, ``sync_positions``): ``acks_late`` +
``reject_on_worker_lost``, so a worker killed mid-task gets the task delivered again. That is
safe because the service owns idempotency: the redelivered ``place_order`` finds the order by
its key; if the killed worker had already sent it, the order is ``sent`` and is looked up at
the broker by client id, never sent twice. Database hiccups are retried with backoff (the
outbox makes a retry harmless); broker refusals are results, not errors.

``fetch_bars`` (the live bar fetch, moved here from ``marketdata`` with its broker call; its
Celery name stays ``marketdata.fetch_bars`` so stored beat schedules keep working) is periodic
(scheduled per account/symbol/timeframe with Celery beat) and is also the ``fetch_bars``
management command. Retry policy lives here; idempotency lives in the
service (``bars_upsert``), so a redelivered or repeated task stores nothing twice.

The cycle (docs/auto-trading.md, "Schedule and workers"): beat fires ``run_cycles(timeframe)``
at each bar close; it queues one ``cycle(account_id, bar_close_iso)`` per account with an
active model (``trading.cycle.dispatch``). Both are ``acks_late`` + ``reject_on_worker_lost``:
a cycle killed mid-way runs again, and is idempotent per (account, bar) by construction (the
account lock, the ``Signal`` constraint, the order key), so a late or repeated run does
nothing. ``expire_kill_switches`` releases the timed switches (the daily-loss stop).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from accounts.models import TradingAccount
from nusatrade.errors import TemporaryBrokerError
from trading import services
from trading.cycle.schedule import SETTLE_SECONDS
from trading.livebars import bars_fetch_live

TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 30,
    "max_retries": 5,
}


def _summary(result: services.OrderResult) -> dict[str, Any]:
    order = result.order
    return {"order": order.pk, "status": order.status, "created": result.created,
            "sent": result.sent, "in_progress": result.in_progress,
            "message": result.message}


# A broker unreachable while the request is checked stores and sends nothing: retry it too.
@shared_task(name="trading.place_order",
             **{**TASK_OPTIONS, "autoretry_for": (OperationalError, InterfaceError,
                                                  TemporaryBrokerError)})
def place_order(signal_id: int, volume: str | None = None, sl: str | None = None,
                tp: str | None = None, at: str | None = None) -> dict[str, Any]:
    """Place the order of a BUY/SELL signal (once, however often this task runs). ``at``
    (ISO time): a paper account's clock for a drill; refused for live accounts."""
    when = datetime.fromisoformat(at) if at else None
    return _summary(services.signal_order_place(signal_id, volume=volume, sl=sl, tp=tp,
                                                at=when))


@shared_task(name="trading.recover_orders", **TASK_OPTIONS)
def recover_orders(account_id: int | None = None, min_age_seconds: int = 120) -> dict[str, Any]:
    """Resolve orders left pending/sent/unknown by a crash or an unknown broker answer."""
    report = services.order_recover(account_id, min_age=timedelta(seconds=min_age_seconds))
    return {"resolved": report.resolved, "busy": report.busy, "failed": report.failed}


@shared_task(name="trading.sync_positions", **TASK_OPTIONS)
def sync_positions(account_id: int) -> dict[str, Any]:
    """Close our positions the broker closed (SL/TP, stop-out) from its deal history."""
    report = services.positions_sync(account_id)
    return {"closed": report.closed, "still_open": report.still_open}


@shared_task(
    name="marketdata.fetch_bars",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TemporaryBrokerError,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=3,
)
def fetch_bars(account_id: int, symbol: str, timeframe: str, count: int = 500) -> dict[str, Any]:
    """Fetch and store the latest closed bars of ``symbol``/``timeframe`` for an account."""
    account = TradingAccount.objects.get(pk=account_id)
    return bars_fetch_live(account, symbol, timeframe, count).as_dict()


@shared_task(name="trading.run_cycles", **TASK_OPTIONS)
def run_cycles(timeframe: str, at: str | None = None, settle_seconds: int = SETTLE_SECONDS,
               queue: str | None = None) -> dict[str, Any]:
    """Fan out one ``trading.cycle`` per account with an active ``timeframe`` model. ``at``
    (ISO time): a drill clock for paper accounts; ``queue``: a route override (tests)."""
    from trading.cycle.dispatch import cycles_dispatch

    when = datetime.fromisoformat(at) if at else None
    return cycles_dispatch(timeframe, at=when, settle_seconds=settle_seconds,
                           queue=queue).as_dict()


@shared_task(name="trading.cycle", **TASK_OPTIONS)
def cycle(account_id: int, bar_close_iso: str, drill: bool = False) -> dict[str, Any]:
    """One account's cycle for the bar that closed at ``bar_close_iso`` (see the module doc)."""
    from trading.cycle.dispatch import cycle_run_for_bar

    return cycle_run_for_bar(account_id, bar_close_iso, drill=drill).to_dict()


@shared_task(name="trading.expire_kill_switches", **TASK_OPTIONS)
def expire_kill_switches() -> dict[str, Any]:
    """Release the engaged kill switches whose ``release_at`` has passed."""
    from trading.services.killswitches import kill_switches_expire

    return {"released": [switch.pk for switch in kill_switches_expire()]}


# Maintenance queue (route ``trading.reconcile*``): read-mostly and never urgent, so a long
# reconciliation of many accounts never delays a trading cycle. Also ``manage.py reconcile``.
@shared_task(name="trading.reconcile", **TASK_OPTIONS)
def reconcile(account_id: int | None = None) -> dict[str, Any]:
    """Reconcile one account (or every account not closed) with its broker."""
    from trading.reconciliation.service import reconcile_account, reconcile_all

    runs = ([reconcile_account(account_id, triggered_by="task:trading.reconcile")]
            if account_id is not None else reconcile_all(triggered_by="task:trading.reconcile"))
    return {"runs": [{"run": r.pk, "account": r.account_id, "status": r.status,
                      "findings": r.findings, "fixed": r.fixed, "unsafe": r.unsafe}
                     for r in runs]}
