"""Signals: a decision on one closed bar, and the order it asks for (same key every time)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from nusatrade.errors import DataError
from trading.brokers.base import BrokerClient
from trading.models import Decision, Signal
from trading.services.keys import decision_key
from trading.services.orders import OrderResult, order_place, paper_broker_at, volume_default


def signal_record(account_id: int, *, model_id: int | None, symbol: str, bar_time: datetime,
                  decision: str, probabilities: dict[str, float] | None = None,
                  timeframe: str = "", reason: str = "") -> Signal:
    """The signal of (account, model, symbol, bar), created once (a DB constraint)."""
    if decision not in Decision.values:
        raise DataError(f"decision must be one of {', '.join(Decision.values)}, "
                        f"not {decision!r}", column="decision")
    fields = {"timeframe": timeframe, "probabilities": probabilities or {},
              "decision": decision, "reason": reason}
    if model_id is None:
        return Signal.objects.create(account_id=account_id, symbol=symbol, bar_time=bar_time,
                                     **fields)
    lookup = {"account_id": account_id, "model_id": model_id, "symbol": symbol,
              "bar_time": bar_time}
    try:
        with transaction.atomic():
            signal, _created = Signal.objects.get_or_create(**lookup, defaults=fields)
    except IntegrityError:
        signal = Signal.objects.get(**lookup)
    return signal


def signal_order_place(signal_id: int, *, volume: Decimal | str | None = None,
                       sl: Any = None, tp: Any = None,
                       broker: BrokerClient | None = None,
                       at: datetime | None = None) -> OrderResult:
    """Place the order a BUY/SELL signal asks for; its key is (account, model, bar, open), so
    however often this runs for one signal (redelivered tasks, overlapping cycles) there is
    one order. ``at``: a paper account's clock for this call (drills; never for a live
    account), also the time the risk gate checks at."""
    signal = Signal.objects.filter(pk=signal_id).first()
    if signal is None:
        raise DataError(f"no signal {signal_id}", column="signal")
    if signal.decision == Decision.HOLD:
        raise DataError(f"signal {signal_id} is HOLD: it places no order", column="decision")
    if at is not None and broker is None:
        broker = paper_broker_at(signal.account, at)
    key = decision_key(signal.account_id, signal.model_id, signal.bar_time, "open")
    return order_place(
        signal.account_id, idempotency_key=key, symbol=signal.symbol, side=signal.decision,
        volume=volume if volume is not None else volume_default(signal.account_id), sl=sl,
        tp=tp, signal_id=signal.pk, model_id=signal.model_id,
        reason=signal.reason or f"signal {signal.pk}", broker=broker, now=at)
