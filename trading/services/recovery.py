"""Resolving orders whose outcome is not recorded: ``sent`` (the sender died between the
broker call and the record, or the database was unreachable), ``unknown`` (the broker gave
no answer) and ``pending`` left behind by a crash before the send.

The rule: look the order up at the broker by its client id and magic (``find_order``: deal
history and open positions). Found -> record the fill exactly as if the answer had arrived
(no resend). Not found -> ``cancelled`` with the reason. Never a blind resend: an order that
might still execute must not get a twin.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from nusatrade.errors import BrokerError
from trading.brokers import broker_for
from trading.brokers.base import BrokerClient
from trading.models import IN_FLIGHT, Order, OrderStatus
from trading.services import recording
from trading.services.locks import order_send_lock

logger = logging.getLogger("nusatrade.trading.recovery")
# How far before the order's creation the broker's history is searched (clock skew).
LOOKBACK = timedelta(minutes=5)


def search_start(order: Order) -> datetime:
    """Where to start searching the broker's history for ``order``: before it was created by
    our clock AND by the broker's (the quote it was checked against), whichever is earlier."""
    start = order.created_at
    quoted = (order.request or {}).get("quote_time")
    if quoted:
        start = min(start, datetime.fromisoformat(quoted))
    return start - LOOKBACK


def order_resolve(order: Order, broker: BrokerClient) -> Order:
    """Resolve ``order`` by a look-up at the broker. The caller holds its send lock."""
    since = search_start(order)
    outcome = broker.find_order(order.client_id, int(order.magic), since)
    if outcome is not None:
        spec = broker.symbol_info(order.symbol)
        deals = []
        if order.purpose == "close" and outcome.position_ticket is not None:
            deals = [d for d in broker.deals(since, timezone.now() + LOOKBACK)
                     if d.position_ticket == outcome.position_ticket]
        logger.warning("order %s (%s) found at the broker: recording it, not resending",
                       order.pk, order.status)
        return recording.outcome_record(order, outcome, spec, deals)
    reason = {OrderStatus.PENDING: "never sent (its sender stopped before sending)",
              OrderStatus.SENT: "not found at the broker after an interrupted send",
              OrderStatus.UNKNOWN: "not found at the broker after an unknown outcome"}
    Order.objects.filter(pk=order.pk, status=order.status).update(
        status=OrderStatus.CANCELLED, completed_at=timezone.now(),
        error=f"cancelled: {reason.get(order.status, order.status)}; not resent")
    logger.warning("order %s cancelled: %s", order.pk, reason.get(order.status))
    order.refresh_from_db()
    return order


@dataclass(frozen=True)
class RecoveryReport:
    resolved: list[tuple[int, str]]   # (order id, final status)
    busy: list[int]                   # held by a live sender: left alone
    failed: list[tuple[int, str]]     # broker unreachable: try again later


def order_recover(account_id: int | None = None, *, min_age: timedelta = timedelta(0),
                  broker: BrokerClient | None = None) -> RecoveryReport:
    """Resolve every in-flight order (pending, sent, unknown) older than ``min_age``.

    ``min_age`` keeps a periodic run from cancelling an intent whose sender is about to take
    its lock; orders whose lock is held are skipped (their sender is alive).
    """
    cutoff = timezone.now() - min_age
    orders = Order.objects.filter(status__in=IN_FLIGHT).filter(
        Q(created_at__lte=cutoff)).select_related("account").order_by("id")
    if account_id is not None:
        orders = orders.filter(account_id=account_id)
    resolved, busy, failed = [], [], []
    brokers: dict[int, BrokerClient] = {}
    for order in orders:
        with order_send_lock(order.pk) as locked:
            if not locked:
                busy.append(order.pk)
                continue
            order.refresh_from_db()
            if order.status not in IN_FLIGHT:
                continue
            try:
                client = broker or brokers.setdefault(order.account_id,
                                                      broker_for(order.account))
                order = order_resolve(order, client)
            except BrokerError as error:
                failed.append((order.pk, str(error)))
                continue
            resolved.append((order.pk, order.status))
    return RecoveryReport(resolved, busy, failed)
