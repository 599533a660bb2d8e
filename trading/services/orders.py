"""``order_place``: THE one service that sends orders (docs/trading.md, "Order life cycle").

The path, top to bottom, each step committed before the next::

    validate (edge, broker's contract facts + quote)  -> refused: rejected intent, nothing sent
    txn 1: lock account row; kill switches + risk;     -> refused: rejected intent, nothing sent
           INSERT Order(pending, idempotency key UNIQUE)  (the outbox: intent before any send)
    send lock (per order, held until the answer is recorded; dies with its holder)
    txn 2: pending -> sent (durable: "a send may have happened")
    broker call (outside any transaction: the paper broker commits its own rows)
    txn 3: record the outcome (Order, Position, Deal)

A caller with a key that already exists gets that order: final -> returned as is; locked by
another process -> "in progress", nothing sent; ``sent``/``unknown`` and not locked (its
holder died, or the answer was unknown) -> looked up at the broker by client id and magic
(:mod:`trading.services.recovery`), never sent again blindly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Broker, TradingAccount
from nusatrade.errors import BrokerError, DataError, TemporaryBrokerError
from trading.brokers import broker_for
from trading.brokers.base import (
    BrokerClient,
    MarketOrder,
    OrderOutcome,
    OrderSide,
    OrderState,
    Tick,
    client_id_for,
)
from trading.models import FINAL, Order, OrderPurpose, OrderStatus, Position, PositionStatus
from trading.services import recording
from trading.services.gate import order_gate
from trading.services.locks import order_send_lock
from trading.services.recovery import order_resolve
from trading.validation import (
    OrderInvalid,
    OrderRequest,
    check_order_against_market,
    parse_order_request,
)

logger = logging.getLogger("nusatrade.trading.orders")
REFUSED_BEFORE_SENDING = "refused before sending: "
# The key of a refused intent's stored request that holds validation's field errors.
REFUSAL_KEY = "refused"
# Clock skew allowance when asking the broker for the deals of a position.
_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class OrderResult:
    """What one ``order_place`` call did. ``created``: this call committed the intent;
    ``sent``: this call sent it to the broker; ``in_progress``: another process holds it."""

    order: Order
    created: bool = False
    sent: bool = False
    in_progress: bool = False

    @property
    def message(self) -> str:
        order = self.order
        if self.in_progress:
            return f"order {order.pk} is being sent by another process"
        text = f"order {order.pk} {order.status}"
        if order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
            text += f": {order.filled_volume} {order.symbol} at {order.fill_price}"
        if order.error:
            text += f": {order.error.splitlines()[0]}"
        elif order.retcode_text and order.status != OrderStatus.FILLED:
            text += f": {order.retcode_text} (retcode {order.retcode})"
        return text if self.created else text + " (existing order)"


@dataclass(frozen=True)
class _Intent:
    account_id: int
    key: str
    purpose: str
    raw: dict[str, Any]
    signal_id: int | None = None
    model_id: int | None = None
    position_id: int | None = None
    reason: str = ""


def magic() -> int:
    return int(settings.TRADING_MAGIC)


def order_place(account_id: int, *, idempotency_key: str, symbol: Any, side: Any, volume: Any,
                sl: Any = None, tp: Any = None, purpose: str = OrderPurpose.OPEN,
                position_id: int | None = None, signal_id: int | None = None,
                model_id: int | None = None, reason: str = "",
                broker: BrokerClient | None = None, now: datetime | None = None) -> OrderResult:
    """Place one order exactly once per ``idempotency_key`` (see the module docstring)."""
    intent = _Intent(account_id, idempotency_key, str(purpose),
                     {"symbol": _text(symbol), "side": _text(side), "volume": _text(volume),
                      "sl": _text(sl), "tp": _text(tp)},
                     signal_id, model_id, position_id, reason[:2000])
    existing = Order.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        _check_same_account(existing, account_id)
        return _continue(existing, broker, created=False)
    account = TradingAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise DataError(f"no trading account {account_id}", column="account")
    broker = broker or broker_for(account)
    try:
        request = parse_order_request(symbol, side, volume, sl, tp)
        tick = _check_market(request, broker)
    except OrderInvalid as invalid:
        return OrderResult(_rejected_intent(intent, invalid.errors), created=True)
    # The quote the request was checked against (and the broker's clock, which recovery uses
    # to search the broker's history even when that clock is not ours: a paper drill).
    intent.raw.update(bid=str(tick.bid), ask=str(tick.ask), quote_time=tick.time.isoformat())
    order, created = _intent_commit(intent, request, now or timezone.now())
    return _continue(order, broker, created=created)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:100]


def _check_same_account(order: Order, account_id: int) -> None:
    if order.account_id != int(account_id):
        raise DataError(f"idempotency key {order.idempotency_key!r} belongs to another account",
                        column="idempotency_key")


def _check_market(request: OrderRequest, broker: BrokerClient) -> Tick:
    """The broker's contract facts and quote for the request (both read at run time)."""
    try:
        spec = broker.symbol_info(request.symbol)
    except TemporaryBrokerError:
        raise          # the broker is unreachable: nothing stored, the caller may retry
    except BrokerError as error:
        # A lasting refusal of the symbol's facts: the broker does not know it.
        raise OrderInvalid({"symbol": f"{request.symbol!r} is not a symbol this broker "
                                      f"trades ({error})"}) from None
    tick = broker.tick(request.symbol)
    check_order_against_market(request, spec, tick)
    return tick


def _rejected_intent(intent: _Intent, errors: dict[str, str]) -> Order:
    """Store only the refused intent (status rejected, never sent); same key -> same row.
    Validation's field errors are kept as they are (the request's ``refused`` key, read by
    :func:`order_refusal`) next to the text people and logs read."""
    text = "; ".join(f"{field}: {message}" for field, message in errors.items())
    side = (intent.raw["side"] or "").strip().upper()
    order, _created = Order.objects.get_or_create(idempotency_key=intent.key, defaults={
        **_identity(intent), "request": {**intent.raw, REFUSAL_KEY: dict(errors)},
        "symbol": (intent.raw["symbol"] or "")[:32].strip().upper(),
        "side": side if side in OrderSide.__members__ else "",
        "status": OrderStatus.REJECTED, "error": f"{REFUSED_BEFORE_SENDING}{text}",
        "completed_at": timezone.now()})
    logger.info("order %s refused before sending: %s", order.pk, text)
    return order


def order_refusal(order: Order) -> dict[str, str] | None:
    """Field -> message of an intent refused before sending (``OrderInvalid.errors`` as
    validation raised them), for callers that answer per field (the API); ``None`` for any
    other order. An empty dict: refused before sending, but no field errors were stored with
    it (a row written before they were); its ``error`` text is all there is."""
    if order.status != OrderStatus.REJECTED or not order.error.startswith(
            REFUSED_BEFORE_SENDING):
        return None
    errors = (order.request or {}).get(REFUSAL_KEY)
    if not isinstance(errors, dict):
        return {}
    return {str(field): str(message) for field, message in errors.items()}


def _identity(intent: _Intent) -> dict[str, Any]:
    return {"account_id": intent.account_id, "signal_id": intent.signal_id,
            "model_id": intent.model_id, "client_id": client_id_for(intent.key),
            "magic": magic(), "purpose": intent.purpose, "position_id": intent.position_id,
            "request": intent.raw, "reason": intent.reason}


def _intent_commit(intent: _Intent, request: OrderRequest, now: datetime) -> tuple[Order, bool]:
    """Transaction 1: the account locked, the gate checked, the intent committed (outbox)."""
    fields = {**_identity(intent), "symbol": request.symbol, "side": request.side.value,
              "volume": request.volume, "sl": request.sl, "tp": request.tp}
    with transaction.atomic():
        account = TradingAccount.objects.select_for_update().get(pk=intent.account_id)
        existing = Order.objects.filter(idempotency_key=intent.key).first()
        if existing is not None:   # committed by a racing caller while we waited for the lock
            return existing, False
        refusal = None
        if intent.purpose == OrderPurpose.OPEN:
            refusal = order_gate(account, intent.model_id, request.symbol, now)
        if refusal is not None:
            fields.update(status=OrderStatus.REJECTED, completed_at=timezone.now(),
                          error=f"refused by {refusal.rule}: {refusal.reason}")
        try:
            with transaction.atomic():
                order = Order.objects.create(idempotency_key=intent.key, **fields)
        except IntegrityError:   # the unique key: another process committed it first
            return Order.objects.get(idempotency_key=intent.key), False
    if refusal is not None:
        logger.info("order %s refused by %s: %s", order.pk, refusal.rule, refusal.reason)
    return order, True


def _continue(order: Order, broker: BrokerClient | None, *, created: bool) -> OrderResult:
    """Send a pending order, resolve a sent/unknown one, or return a final one."""
    if order.status in FINAL:
        return OrderResult(order, created=created)
    with order_send_lock(order.pk) as locked:
        if not locked:
            return OrderResult(order, created=created, in_progress=True)
        order.refresh_from_db()
        if order.status in FINAL:
            return OrderResult(order, created=created)
        broker = broker or broker_for(order.account)
        if order.status == OrderStatus.PENDING:
            return OrderResult(_send(order, broker), created=created, sent=True)
        # sent (its sender died before recording) or unknown: look it up, never resend.
        return OrderResult(order_resolve(order, broker), created=created)


def _mark_sent(order: Order) -> bool:
    """Transaction 2: pending -> sent, durable BEFORE the broker call."""
    changed = Order.objects.filter(pk=order.pk, status=OrderStatus.PENDING).update(
        status=OrderStatus.SENT, attempts=F("attempts") + 1, sent_at=timezone.now())
    return changed == 1


def _send(order: Order, broker: BrokerClient) -> Order:
    # Read before the "sent" mark: a broker unreachable here leaves the order pending (never
    # sent), which a retry may send; after the mark only a look-up may resolve it.
    spec = broker.symbol_info(order.symbol)
    if not _mark_sent(order):
        order.refresh_from_db()
        return order
    try:
        outcome = _broker_call(order, broker)
    except BrokerError as error:
        # Raised before or during the send: whether it executed is unknown -> look it up later.
        outcome = OrderOutcome(state=OrderState.UNKNOWN, retcode=error.retcode,
                               message=f"broker error: {error}"[:200],
                               client_id=order.client_id)
    deals = _position_deals(order, outcome, broker)
    order = recording.outcome_record(order, outcome, spec, deals)
    logger.info("order %s %s (retcode %s, %s attempt(s))", order.pk, order.status,
                order.retcode, order.attempts)
    return order


def _broker_call(order: Order, broker: BrokerClient) -> OrderOutcome:
    if order.purpose == OrderPurpose.CLOSE:
        position = Position.objects.get(pk=order.position_id)
        return broker.close_position(int(position.broker_ticket), client_id=order.client_id,
                                     magic=int(order.magic), volume=order.volume)
    return broker.place_market_order(MarketOrder(
        symbol=order.symbol, side=OrderSide(order.side), volume=order.volume,
        client_id=order.client_id, magic=int(order.magic), sl=order.sl, tp=order.tp,
        comment=""))


def _position_deals(order: Order, outcome: OrderOutcome, broker: BrokerClient) -> list:
    """The broker's deals of the position a close order just closed (its costs)."""
    if order.purpose != OrderPurpose.CLOSE or outcome.state not in (
            OrderState.FILLED, OrderState.PARTIALLY_FILLED):
        return []
    position = Position.objects.get(pk=order.position_id)
    try:
        found = broker.deals(position.entry_time - _MARGIN, timezone.now() + _MARGIN)
    except BrokerError:
        logger.warning("order %s: deals of position %s unavailable; costs come with the next "
                       "positions sync", order.pk, position.pk)
        return []
    return [d for d in found if d.position_ticket == position.broker_ticket]


def position_close(position_id: int, *, reason: str = "", idempotency_key: str | None = None,
                   broker: BrokerClient | None = None) -> OrderResult:
    """Close an open position at market through the same outbox path (purpose close)."""
    from trading.services.keys import close_key

    position = Position.objects.filter(pk=position_id).first()
    if position is None:
        raise DataError(f"no position {position_id}", column="position")
    if position.broker_ticket is None:
        raise DataError(f"position {position_id} has no broker ticket", column="position")
    key = idempotency_key or close_key(position.account_id, position.pk)
    if position.status != PositionStatus.OPEN and not Order.objects.filter(
            idempotency_key=key).exists():
        raise DataError(f"position {position_id} is already closed", column="position")
    side = OrderSide(position.side).opposite.value
    result = order_place(position.account_id, idempotency_key=key, symbol=position.symbol,
                         side=side, volume=position.volume, purpose=OrderPurpose.CLOSE,
                         position_id=position.pk, model_id=position.model_id,
                         reason=reason or "close", broker=broker)
    position.refresh_from_db(fields=["status", "exit_time"])
    if position.status == PositionStatus.CLOSED:
        # A close may trip an automatic stop (daily loss, streak, ...): engage it now, not at
        # the next cycle. Same layer (trading services); imported here as killswitches does.
        from trading.services.stops import stops_enforce_quietly

        stops_enforce_quietly(position.account_id, now=position.exit_time)
    return result


def volume_default(account_id: int) -> Decimal:
    """The account's fixed lots (its risk policy; the seed's 0.01 without one)."""
    from trading.models import RiskPolicy

    policy = RiskPolicy.objects.filter(account_id=account_id).first()
    return policy.lots if policy else Decimal("0.01")


def paper_broker_at(account: TradingAccount, at: datetime) -> BrokerClient:
    """The paper broker of ``account`` on a fixed clock ``at`` (drills, and tests run on days
    the market is closed). Refused for any account that is not paper: a live broker's clock is
    the market's."""
    if account.broker != Broker.PAPER:
        raise DataError(f"account {account.pk} is not a paper account: its clock is the "
                        "broker's", column="at")
    if at.tzinfo is None:
        raise DataError("the time must be timezone-aware (UTC)", column="at")
    return broker_for(account, clock=lambda: at)
