"""Shared set-up of the MT5 trading tests: a simulator fed with hand-drawn bars and an adapter
that runs on the simulator's clock and never sleeps (its waits are recorded instead)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from trading.brokers.base import MarketOrder, OrderSide, client_id_for
from trading.brokers.mt5 import MT5Broker
from trading.brokers.mt5sim import XAUUSD_SPEC, MT5Simulator
from trading.pnl import InstrumentSpec

PASSWORD = "sim-password-never-logged-42"
LOGIN = 5001
MAGIC = 424242
START = pd.Timestamp("2024-03-05 10:00", tz="UTC")


def flat_bars(closes: list[str], *, spread: int = 0, start: pd.Timestamp = START,
              wiggle: str = "0") -> pd.DataFrame:
    """H1 bars from START, one per close; each opens at the previous close and ranges
    ``wiggle`` beyond its open/close (0: the bar never leaves them)."""
    rows, previous = [], Decimal(closes[0])
    for close in map(Decimal, closes):
        top, bottom = max(previous, close), min(previous, close)
        rows.append({"open": float(previous), "high": float(top + Decimal(wiggle)),
                     "low": float(bottom - Decimal(wiggle)), "close": float(close),
                     "volume": 100.0, "spread": float(spread)})
        previous = close
    index = pd.date_range(start, periods=len(closes), freq="h", name="time").as_unit("us")
    return pd.DataFrame(rows, index=index)


class Waits(list):
    """An injected ``sleep`` that records the backoff delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(closes: list[str] | None = None, *, spec: InstrumentSpec = XAUUSD_SPEC,
         when: str = "2024-03-05 10:30", spread: int = 0, wiggle: str = "0",
         server_timezone: str = "UTC", **options) -> tuple[MT5Simulator, MT5Broker, Waits]:
    sim = MT5Simulator(accounts={LOGIN: (PASSWORD, "Sim-Demo")}, server_timezone=server_timezone)
    bars = flat_bars(closes or ["2350.00"] * 48, spread=spread, wiggle=wiggle)
    sim.add_symbol(spec.symbol, bars, spec=spec)
    sim.set_time(when)
    waits = Waits()
    broker = MT5Broker(sim, str(LOGIN), "Sim-Demo", lambda: PASSWORD,
                       clock=lambda: sim.now().to_pydatetime(), sleep=waits,
                       server_timezone=server_timezone, **options)
    return sim, broker, waits


def order(key: str = "order-1", side: OrderSide = OrderSide.BUY, volume: str = "0.10", *,
          symbol: str = "XAUUSD", magic: int = MAGIC, **fields) -> MarketOrder:
    return MarketOrder(symbol=symbol, side=side, volume=Decimal(volume),
                       client_id=client_id_for(key), magic=magic, **fields)
