"""The broker interface every implementation follows (pure: no Django).

Market data only for now; the trading engine adds orders and positions to the same interface.
Nothing outside ``trading/brokers/`` talks to a broker.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

import pandas as pd

from marketdata import calendar, timeframes
from nusatrade.errors import DataError

Clock = Callable[[], datetime]
BAR_COLUMNS = ["open", "high", "low", "close", "volume", "spread"]
MAX_BARS_PER_REQUEST = 100_000


def utc_now() -> datetime:
    """The wall clock, timezone-aware UTC (the default clock of every broker)."""
    return datetime.now(UTC)


def to_decimal(value: Any) -> Decimal:
    """An exact Decimal for a broker number: floats go through ``repr`` (0.01 -> "0.01")."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


@dataclass(frozen=True)
class SymbolSpec:
    """The contract facts that money and order maths need, as the broker states them."""

    symbol: str
    digits: int
    point: Decimal
    contract_size: Decimal
    tick_size: Decimal
    tick_value: Decimal
    volume_min: Decimal
    volume_max: Decimal
    volume_step: Decimal
    currency_profit: str = "USD"
    description: str = ""

    @classmethod
    def from_instrument(cls, instrument: Any) -> SymbolSpec:
        """From a ``trading.Instrument`` (duck-typed, so this module stays Django-free)."""
        return cls(
            symbol=instrument.symbol, digits=int(instrument.digits),
            point=to_decimal(instrument.point),
            contract_size=to_decimal(instrument.contract_size),
            tick_size=to_decimal(instrument.tick_size),
            tick_value=to_decimal(instrument.tick_value),
            volume_min=to_decimal(instrument.volume_min),
            volume_max=to_decimal(instrument.volume_max),
            volume_step=to_decimal(instrument.volume_step),
            currency_profit=instrument.profit_currency, description=instrument.description,
        )


def validate_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or not (
            1 <= count <= MAX_BARS_PER_REQUEST):
        raise ValueError(f"count must be an integer from 1 to {MAX_BARS_PER_REQUEST}")
    return int(count)


def empty_bars() -> pd.DataFrame:
    index = pd.DatetimeIndex([], name="time").as_unit("us").tz_localize("UTC")
    return pd.DataFrame({c: pd.Series([], dtype="float64") for c in BAR_COLUMNS}, index=index)


def only_closed(frame: pd.DataFrame, timeframe: str, now: datetime) -> pd.DataFrame:
    """The bars of ``frame`` whose period has ended at ``now`` (open + timeframe <= now)."""
    delta = timeframes.get(timeframe).delta
    return frame[frame.index + delta <= calendar.to_utc_timestamp(now)]


def check_bars(frame: pd.DataFrame, timeframe: str, now: datetime) -> pd.DataFrame:
    """Raise DataError if ``frame`` breaks the bars convention or holds a still-forming bar."""
    if not isinstance(frame.index, pd.DatetimeIndex) or str(frame.index.tz) != "UTC":
        raise DataError("broker bars need a UTC DatetimeIndex", column="time")
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise DataError("broker bars must be strictly increasing in time", column="time")
    forming = len(frame) - len(only_closed(frame, timeframe, now))
    if forming:
        raise DataError(f"broker returned {forming} {timeframe} bar(s) still forming at "
                        f"{calendar.to_utc_timestamp(now).isoformat()}", column="time")
    return frame


class BrokerClient(ABC):
    """A connection to one broker account (or the paper simulation of one)."""

    name: str = "broker"
    # True when the bars are generated rather than market data: stored with synthetic=True.
    synthetic: bool = False

    @abstractmethod
    def latest_closed_bars(self, symbol: str, timeframe: str, count: int) -> pd.DataFrame:
        """Up to ``count`` most recent CLOSED bars, oldest first, in the bars convention (UTC
        "time" index of open times; float64 open high low close volume spread). Never the
        still-forming bar."""

    @abstractmethod
    def symbol_info(self, symbol: str) -> SymbolSpec:
        """The broker's contract facts for ``symbol`` (BrokerError if it has none)."""

    def close(self) -> None:  # noqa: B027 - optional hook: most brokers hold nothing
        """Release the connection (idempotent)."""

    def __enter__(self) -> BrokerClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
