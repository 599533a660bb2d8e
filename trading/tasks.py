"""Celery tasks of the trading app. Thin: ids in, one service call, a JSON-safe result out.

``fetch_bars`` (the live bar fetch, moved here from ``marketdata`` with its broker call; its
Celery name stays ``marketdata.fetch_bars`` so stored beat schedules keep working) is periodic
(scheduled per account/symbol/timeframe with Celery beat) and is also the ``fetch_bars``
management command. Retry policy lives here; idempotency lives in the
service (``bars_upsert``), so a redelivered or repeated task stores nothing twice.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from accounts.models import TradingAccount
from nusatrade.errors import TemporaryBrokerError
from trading.livebars import bars_fetch_live


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
