"""A paper account's book: its settings, balance and open positions, as plain values (pure: no
Django), and the store it is loaded from and saved to.

The broker never keeps an account in memory between calls: each call opens
:meth:`PaperStore.transaction`, which loads the book LOCKED against every other caller (the
database store takes ``SELECT ... FOR UPDATE`` on the account row), lets the broker change it,
and saves what changed when the block ends without an exception. Two processes placing orders
on one account therefore run one after the other on fresh state, and no balance update is
lost. Deals and orders are append-only history: the book carries only the new ones.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from trading.brokers.base import BrokerDeal, BrokerOrderRecord, OrderSide
from trading.pnl import STOP_OUT_LEVEL

# The ``backtest`` command's defaults (backtests/management/commands/backtest.py): a default
# paper account trades what a default backtest tested.
DEFAULT_SPREAD_PIPS = Decimal("3")
DEFAULT_SLIPPAGE_PIPS = Decimal("1")
DEFAULT_COMMISSION_PER_LOT = Decimal("0")
DEFAULT_TIMEFRAME = "H1"


@dataclass(frozen=True)
class PaperSettings:
    """How a paper account fills: costs, leverage, stop-out, and the bars it is marked on.

    ``spread_pips``/``slippage_pips`` are pips of the traded instrument (XAUUSD 3 pips = 0.30);
    with ``spread_from_bars`` each bar's ``spread`` column (points) is the spread instead.
    ``commission_per_lot`` is money per lot per round trip, charged at the close (as the
    backtester does). ``stop_out_level`` is a margin level in percent.
    """

    login: str
    currency: str = "USD"
    leverage: int = 100
    spread_pips: Decimal = DEFAULT_SPREAD_PIPS
    spread_from_bars: bool = False
    slippage_pips: Decimal = DEFAULT_SLIPPAGE_PIPS
    commission_per_lot: Decimal = DEFAULT_COMMISSION_PER_LOT
    stop_out_level: Decimal = STOP_OUT_LEVEL
    timeframe: str = DEFAULT_TIMEFRAME
    server: str = "NusaTrade-Paper"


@dataclass
class PaperPosition:
    """An open position. ``nights`` counts the UTC midnights it has been held through (its swap
    is computed from it, in one rounding, exactly as the backtester does)."""

    ticket: int
    symbol: str
    side: OrderSide
    volume: Decimal
    price_open: Decimal
    sl: Decimal | None
    tp: Decimal | None
    magic: int
    client_id: str
    time: datetime
    nights: int = 0


@dataclass
class PaperBook:
    """Everything a broker call may change, loaded under the account's lock.

    ``last_bar``: open time of the last closed bar whose SL/TP, swap and stop-out have been
    applied (``None``: never brought up to a clock yet). ``next_ticket``: the account's ticket
    counter (orders, deals and positions share it, as MetaTrader's tickets do).
    """

    settings: PaperSettings
    balance: Decimal
    last_bar: datetime | None
    next_ticket: int
    positions: dict[int, PaperPosition]
    new_deals: list[BrokerDeal] = field(default_factory=list)
    new_orders: list[BrokerOrderRecord] = field(default_factory=list)

    def take_ticket(self) -> int:
        ticket = self.next_ticket
        self.next_ticket += 1
        return ticket


class PaperStore(Protocol):
    """Where one paper account lives (the database in production, memory in pure tests)."""

    def transaction(self) -> AbstractContextManager[PaperBook]:
        """The account's book, locked against every other caller until the block ends; what
        the block changed is saved when it ends without an exception (and dropped otherwise).
        Positions missing from ``book.positions`` at the end were closed by a deal in
        ``book.new_deals``."""

    def deals(self, start: datetime, end: datetime) -> list[BrokerDeal]:
        """The account's deals with ``start <= time < end``, oldest first."""

    def orders(self, start: datetime, end: datetime) -> list[BrokerOrderRecord]:
        """The account's orders with ``start <= time < end``, oldest first."""


class MemoryStore:
    """A :class:`PaperStore` in memory (one process): for notebooks and pure tests.

    Same semantics as the database store: a lock serialises callers, the book is a private copy
    per transaction, and nothing is kept when the block raises.
    """

    def __init__(self, settings: PaperSettings, balance: Decimal) -> None:
        self._lock = threading.Lock()
        self._book = PaperBook(settings=settings, balance=balance, last_bar=None,
                               next_ticket=1, positions={})
        self._deals: list[BrokerDeal] = []
        self._orders: list[BrokerOrderRecord] = []
        self.closed: dict[int, PaperPosition] = {}

    @contextmanager
    def _locked(self) -> Iterator[PaperBook]:
        with self._lock:
            book = copy.deepcopy(self._book)
            yield book
            self.closed.update({t: p for t, p in self._book.positions.items()
                                if t not in book.positions})
            self._deals.extend(book.new_deals)
            self._orders.extend(book.new_orders)
            self._book = replace(book, new_deals=[], new_orders=[])

    def transaction(self) -> AbstractContextManager[PaperBook]:
        return self._locked()

    def deals(self, start: datetime, end: datetime) -> list[BrokerDeal]:
        with self._lock:
            return [d for d in self._deals if start <= d.time < end]

    def orders(self, start: datetime, end: datetime) -> list[BrokerOrderRecord]:
        with self._lock:
            return [o for o in self._orders if start <= o.time < end]
