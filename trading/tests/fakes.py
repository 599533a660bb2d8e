"""A small in-memory broker for the order-path unit tests (the acceptance tests use the real
paper broker and the MT5 simulator). It keeps orders, positions and deals like a broker,
so look-ups by client id behave as at a real one, and it can be told to misbehave."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd

from nusatrade.errors import BrokerError
from trading.brokers.base import (
    AccountInfo,
    BrokerClient,
    BrokerDeal,
    BrokerOrderRecord,
    BrokerPosition,
    DealEntry,
    DealReason,
    MarketOrder,
    OrderOutcome,
    OrderSide,
    OrderState,
    Tick,
    empty_bars,
)
from trading.pnl import InstrumentSpec

XAUUSD = InstrumentSpec("XAUUSD", 2, Decimal("0.01"), Decimal("100"), Decimal("0.01"),
                        Decimal("1"), stops_level=50)
EURUSD = InstrumentSpec("EURUSD", 5, Decimal("0.00001"), Decimal("100000"),
                        Decimal("0.00001"), Decimal("1"))


@dataclass
class FakeBroker(BrokerClient):
    bid: Decimal = Decimal("2350.00")
    spread: Decimal = Decimal("0.30")
    commission_per_deal: Decimal = Decimal("-3.50")   # per lot, MT5 style (negative)
    fault: str = ""             # "unknown_after_accept", "raise_after_accept", "reject", "raise"
    reject_retcode: int = 10016
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    specs: dict = field(default_factory=lambda: {"XAUUSD": XAUUSD, "EURUSD": EURUSD})
    sent: list[MarketOrder] = field(default_factory=list)
    open_positions: dict[int, BrokerPosition] = field(default_factory=dict)
    history: list[BrokerDeal] = field(default_factory=list)
    next_ticket: int = 1000

    name = "fake"

    def __hash__(self) -> int:
        return id(self)

    # -- market data -----------------------------------------------------------------------
    def latest_closed_bars(self, symbol: str, timeframe: str, count: int) -> pd.DataFrame:
        return empty_bars()

    def symbol_info(self, symbol: str) -> InstrumentSpec:
        if symbol not in self.specs:
            raise BrokerError(f"fake broker: unknown symbol {symbol!r}")
        return self.specs[symbol]

    def tick(self, symbol: str) -> Tick:
        self.symbol_info(symbol)
        return Tick(symbol, self.now, self.bid, self.bid + self.spread)

    def account_info(self) -> AccountInfo:
        return AccountInfo("1", "USD", Decimal("10000"), Decimal("10000"), Decimal("0"),
                           Decimal("10000"), None, 100)

    def positions(self, symbol: str | None = None) -> list[BrokerPosition]:
        return [p for p in self.open_positions.values() if symbol in (None, p.symbol)]

    # -- trading ---------------------------------------------------------------------------
    def _ticket(self) -> int:
        self.next_ticket += 1
        return self.next_ticket

    def _deal(self, position: int, order: int, symbol: str, side: OrderSide, entry: DealEntry,
              volume: Decimal, price: Decimal, *, magic: int, client_id: str,
              reason: DealReason = DealReason.EXPERT) -> BrokerDeal:
        deal = BrokerDeal(self._ticket(), order, position, symbol, side, entry, volume, price,
                          Decimal("0"), (self.commission_per_deal * volume).quantize(
                              Decimal("0.01")), Decimal("0"), Decimal("0"), magic, client_id,
                          reason, self.now)
        self.history.append(deal)
        return deal

    def open_by_hand(self, side: OrderSide, volume: Decimal, magic: int = 0) -> BrokerPosition:
        """A position someone opened in the terminal (another magic, no client id)."""
        ticket = self._ticket()
        price = self.tick("XAUUSD").price_for(side)
        position = BrokerPosition(ticket, "XAUUSD", side, volume, price, None, None, price,
                                  Decimal("0"), Decimal("0"), magic, "", self.now)
        self.open_positions[ticket] = position
        self._deal(ticket, ticket, "XAUUSD", side, DealEntry.IN, volume, price, magic=magic,
                   client_id="", reason=DealReason.CLIENT)
        return position

    def place_market_order(self, order: MarketOrder) -> OrderOutcome:
        if self.fault == "raise":
            raise BrokerError("fake broker: no connection", retcode=10031)
        if self.fault == "reject":
            return OrderOutcome(OrderState.REJECTED, self.reject_retcode, "Invalid stops",
                                order.client_id)
        self.sent.append(order)
        price = self.tick(order.symbol).price_for(order.side)
        ticket = self._ticket()
        self.open_positions[ticket] = BrokerPosition(
            ticket, order.symbol, order.side, order.volume, price, order.sl, order.tp, price,
            Decimal("0"), Decimal("0"), order.magic, order.client_id, self.now)
        deal = self._deal(ticket, ticket, order.symbol, order.side, DealEntry.IN, order.volume,
                          price, magic=order.magic, client_id=order.client_id)
        if self.fault == "unknown_after_accept":
            return OrderOutcome(OrderState.UNKNOWN, 10012, "Request canceled by timeout",
                                order.client_id)
        if self.fault == "raise_after_accept":
            raise RuntimeError("worker died after the broker accepted")
        return OrderOutcome(OrderState.FILLED, 10009, "Request completed", order.client_id,
                            order_ticket=ticket, deal_ticket=deal.ticket, position_ticket=ticket,
                            volume=order.volume, price=price, time=self.now)

    def close_position(self, ticket: int, *, client_id: str, magic: int,
                       volume: Decimal | None = None) -> OrderOutcome:
        position = self.open_positions.pop(ticket, None)
        if position is None:
            return OrderOutcome(OrderState.REJECTED, 10036, "Position already closed",
                                client_id)
        self.sent.append(MarketOrder(position.symbol, position.side.opposite, position.volume,
                                     client_id, magic, position_ticket=ticket))
        price = self.tick(position.symbol).price_for(position.side.opposite)
        deal = self._deal(ticket, self._ticket(), position.symbol, position.side.opposite,
                          DealEntry.OUT, position.volume, price, magic=magic,
                          client_id=client_id)
        return OrderOutcome(OrderState.FILLED, 10009, "Request completed", client_id,
                            order_ticket=deal.order_ticket, deal_ticket=deal.ticket,
                            position_ticket=ticket, volume=position.volume, price=price,
                            time=self.now)

    def hit_level(self, ticket: int, price: Decimal, reason: DealReason) -> None:
        """The broker closes a position on its own (SL/TP while we were away)."""
        position = self.open_positions.pop(ticket)
        self._deal(ticket, self._ticket(), position.symbol, position.side.opposite,
                   DealEntry.OUT, position.volume, price, magic=position.magic,
                   client_id="", reason=reason)

    def modify_position(self, ticket: int, sl: Decimal | None, tp: Decimal | None, *,
                        client_id: str = "", magic: int = 0) -> OrderOutcome:
        raise NotImplementedError

    def deals(self, start: datetime, end: datetime) -> list[BrokerDeal]:
        return [d for d in self.history if start <= d.time < end]

    def history_orders(self, start: datetime, end: datetime) -> list[BrokerOrderRecord]:
        return []

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
