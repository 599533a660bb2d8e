"""Recording what the broker did: Order outcome, Position and Deal rows (the second
transaction of the order path, and the closing of positions from the broker's deals).

Money: gross P/L is ``trading.pnl.profit`` on the recorded prices (the one P/L formula);
commission and swap are what the broker charged in its deals (MT5 reports a commission as a
negative amount: stored on the position as a positive cost); ``net = gross - commission + swap``.
Idempotent: positions and deals are unique per (account, broker ticket), so recording the
same fill twice (a redelivered task, a recovery racing a sync) finds the existing rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from trading import pnl
from trading.brokers.base import BrokerDeal, DealReason, OrderOutcome, OrderState
from trading.brokers.base import DealEntry as BrokerDealEntry
from trading.brokers.retcodes import meaning
from trading.models import (
    Deal,
    ExitReason,
    Order,
    OrderPurpose,
    OrderStatus,
    Position,
    PositionStatus,
)
from trading.pnl import InstrumentSpec

_STATUS = {
    OrderState.FILLED: OrderStatus.FILLED,
    OrderState.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    OrderState.REJECTED: OrderStatus.REJECTED,
    OrderState.UNKNOWN: OrderStatus.UNKNOWN,
}
_EXIT_REASONS = {
    DealReason.STOP_LOSS: ExitReason.STOP_LOSS,
    DealReason.TAKE_PROFIT: ExitReason.TAKE_PROFIT,
    DealReason.STOP_OUT: ExitReason.STOP_OUT,
    DealReason.CLIENT: ExitReason.CLIENT,
}
_CLOSING = (BrokerDealEntry.OUT, BrokerDealEntry.OUT_BY, BrokerDealEntry.INOUT)


def outcome_record(order: Order, outcome: OrderOutcome, spec: InstrumentSpec,
                   deals: Iterable[BrokerDeal] = ()) -> Order:
    """Store ``outcome`` on ``order`` and, for a fill, open or close its position; ``deals``
    are the broker's deals of that position (costs of a close). One transaction."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        order.status = _STATUS[outcome.state]
        order.retcode = outcome.retcode
        order.retcode_text = (outcome.message or meaning(outcome.retcode))[:200]
        order.attempts = max(order.attempts, outcome.attempts)
        order.broker_order_ticket = outcome.order_ticket or order.broker_order_ticket
        order.broker_deal_ticket = outcome.deal_ticket or order.broker_deal_ticket
        order.broker_position_ticket = outcome.position_ticket or order.broker_position_ticket
        if outcome.retries:
            order.error = "\n".join(outcome.retries)[:2000]
        if outcome.state in (OrderState.FILLED, OrderState.PARTIALLY_FILLED):
            order.filled_volume = outcome.volume
            order.fill_price = outcome.price
            _record_fill(order, outcome, spec, list(deals))
        if order.status != OrderStatus.UNKNOWN:
            order.completed_at = timezone.now()
        order.save()
    return order


def _record_fill(order: Order, outcome: OrderOutcome, spec: InstrumentSpec,
                 deals: list[BrokerDeal]) -> None:
    if order.purpose == OrderPurpose.OPEN:
        position = _open_position(order, outcome)
    else:
        position = Position.objects.select_for_update().get(pk=order.position_id)
        if position.status == PositionStatus.OPEN:
            own = [d for d in deals if d.position_ticket == position.broker_ticket]
            position_close_record(position, spec, own, fallback=outcome,
                                  reason=ExitReason.CLOSED)
    if outcome.deal_ticket is not None:
        deal_from_outcome(order, position, outcome)


def _open_position(order: Order, outcome: OrderOutcome) -> Position:
    time = outcome.time or timezone.now()
    position, _created = Position.objects.get_or_create(
        account_id=order.account_id, broker_ticket=outcome.position_ticket,
        defaults={"model_id": order.model_id, "opening_order": order, "symbol": order.symbol,
                  "side": order.side, "volume": outcome.volume, "entry_price": outcome.price,
                  "entry_time": time, "sl": order.sl, "tp": order.tp})
    return position


def deal_from_outcome(order: Order, position: Position | None, outcome: OrderOutcome) -> Deal:
    """The fill as the order's answer told it (a positions sync adds the broker's costs)."""
    side = order.side
    entry = BrokerDealEntry.IN if order.purpose == OrderPurpose.OPEN else BrokerDealEntry.OUT
    deal, _created = Deal.objects.get_or_create(
        account_id=order.account_id, broker_ticket=outcome.deal_ticket,
        defaults={"position": position, "order": order,
                  "broker_order_ticket": outcome.order_ticket,
                  "broker_position_ticket": outcome.position_ticket, "symbol": order.symbol,
                  "side": side, "entry": entry.value, "volume": outcome.volume,
                  "price": outcome.price, "reason": DealReason.EXPERT.value,
                  "magic": order.magic, "client_id": order.client_id,
                  "time": outcome.time or timezone.now()})
    return deal


def deals_store(account_id: int, position: Position | None,
                deals: Iterable[BrokerDeal]) -> None:
    """The broker's deals as rows (costs included), created or brought up to date."""
    orders = {}
    for deal in deals:
        if deal.client_id and deal.client_id not in orders:
            orders[deal.client_id] = Order.objects.filter(
                account_id=account_id, client_id=deal.client_id).first()
        Deal.objects.update_or_create(
            account_id=account_id, broker_ticket=deal.ticket,
            defaults={"position": position, "order": orders.get(deal.client_id),
                      "broker_order_ticket": deal.order_ticket,
                      "broker_position_ticket": deal.position_ticket, "symbol": deal.symbol,
                      "side": deal.side.value, "entry": deal.entry.value, "volume": deal.volume,
                      "price": deal.price, "profit": deal.profit,
                      "commission": deal.commission, "swap": deal.swap, "fee": deal.fee,
                      "reason": deal.reason.value, "magic": deal.magic,
                      "client_id": deal.client_id, "time": deal.time})


def _exit_of(deals: list[BrokerDeal], fallback: OrderOutcome | None
             ) -> tuple[Decimal, datetime, DealReason | None]:
    outs = [d for d in deals if d.entry in _CLOSING]
    if outs:
        volume = sum((d.volume for d in outs), Decimal("0"))
        price = sum((d.price * d.volume for d in outs), Decimal("0")) / volume
        return price, outs[-1].time, outs[-1].reason
    if fallback is None or fallback.price is None:
        raise ValueError("no closing deal and no fill price to close the position at")
    return fallback.price, fallback.time or timezone.now(), None


def position_close_record(position: Position, spec: InstrumentSpec, deals: list[BrokerDeal],
                          *, fallback: OrderOutcome | None = None,
                          reason: ExitReason | None = None) -> Position:
    """Close ``position`` from the broker's deals of it (exit price volume-weighted over its
    closing deals; costs summed over all its deals) with P/L from ``trading.pnl``."""
    price, time, deal_reason = _exit_of(deals, fallback)
    exit_price = spec.round_price(price)
    side = pnl.Side.BUY if position.side == "BUY" else pnl.Side.SELL
    gross = pnl.profit(side, position.volume, position.entry_price, exit_price, spec)
    charged = sum((d.commission + d.fee for d in deals), Decimal("0"))
    commission = pnl.to_cents(-charged)
    swap = pnl.to_cents(sum((d.swap for d in deals), Decimal("0")))
    position.status = PositionStatus.CLOSED
    position.exit_price = exit_price
    position.exit_time = time
    position.exit_reason = reason or _EXIT_REASONS.get(deal_reason, ExitReason.OTHER)
    position.commission = commission
    position.swap = swap
    position.gross_pnl = gross
    position.net_pnl = pnl.to_cents(gross - commission + swap)
    position.save()
    deals_store(position.account_id, position, deals)
    return position
