"""Hand-drawn bars and a paper broker on them, for the paper broker's tests (pure: no DB).

A scenario is a full H1 grid of flat bars at a base price, with the few bars a test is about
drawn by hand (open, high, low, close), so every price the broker reads is known.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from marketdata import calendar
from trading.brokers.base import DealEntry, MarketOrder, OrderSide
from trading.brokers.paper import ManualClock, MemoryStore, PaperBroker, PaperSettings
from trading.pnl import InstrumentSpec

D = Decimal
XAUUSD = InstrumentSpec("XAUUSD", 2, D("0.01"), D("100"), D("0.01"), D("1"), D("0.1"),
                        swap_long=D("-5.50"), swap_short=D("2.10"), stops_level=50)
EURUSD = InstrumentSpec("EURUSD", 5, D("0.00001"), D("100000"), D("0.00001"), D("1"),
                        D("0.0001"), swap_long=D("-7.25"), swap_short=D("1.80"))
SPECS = {"XAUUSD": XAUUSD, "EURUSD": EURUSD}
HOLIDAYS = calendar.default_holidays(2023, 2025)


def bars(start: str, end: str, base: float, drawn: dict[str, tuple[float, ...]] | None = None,
         spread_points: float = 30.0) -> pd.DataFrame:
    """H1 bid bars opening in ``[start, end)`` on the forex calendar: flat at ``base`` except the
    ``drawn`` ones ("2024-03-05 10:00": (open, high, low, close))."""
    index = calendar.expected_times(start, end, "H1", HOLIDAYS)
    frame = pd.DataFrame({"open": base, "high": base, "low": base, "close": base,
                          "volume": 100.0, "spread": spread_points}, index=index)
    for stamp, (o, h, lo, c) in (drawn or {}).items():
        frame.loc[pd.Timestamp(stamp, tz="UTC"), ["open", "high", "low", "close"]] = (o, h, lo, c)
    return frame.astype("float64")


class Scenario:
    """A paper broker over hand-drawn bars, with a clock the test moves."""

    def __init__(self, frames: dict[str, pd.DataFrame], start: str, *, balance: str = "10000",
                 specs: dict[str, InstrumentSpec] | None = None, **settings: object) -> None:
        self.frames = frames
        self.clock = ManualClock(start)
        self.store = MemoryStore(PaperSettings(login="test", **settings), D(balance))
        self.specs = specs or SPECS
        self.broker = self.new_broker()

    def history(self, symbol: str, timeframe: str, until: pd.Timestamp,
                count: int) -> pd.DataFrame:
        frame = self.frames[symbol]
        return frame[frame.index <= until].tail(count + 5)

    def new_broker(self) -> PaperBroker:
        """Another broker on the same account (a restart)."""
        return PaperBroker(self.specs, history=self.history, clock=self.clock, store=self.store,
                           holidays=HOLIDAYS)

    def order(self, symbol: str, side: OrderSide, volume: str, *, sl: str | None = None,
              tp: str | None = None, client_id: str = "NTtest", magic: int = 77,
              position_ticket: int | None = None) -> MarketOrder:
        return MarketOrder(symbol=symbol, side=side, volume=D(volume), client_id=client_id,
                           magic=magic, sl=None if sl is None else D(sl),
                           tp=None if tp is None else D(tp), position_ticket=position_ticket)

    def place(self, *args: object, **kwargs: object):
        return self.broker.place_market_order(self.order(*args, **kwargs))

    def all_deals(self):
        return self.broker.deals(pd.Timestamp("2000-01-01", tz="UTC").to_pydatetime(),
                                 pd.Timestamp("2100-01-01", tz="UTC").to_pydatetime())

    def out_deals(self):
        return [d for d in self.all_deals() if d.entry is DealEntry.OUT]
