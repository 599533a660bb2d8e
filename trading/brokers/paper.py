"""The paper broker's market data: the stored series, continued synthetically up to the last
closed bar at the clock (pure: no Django; stored bars come from an injected loader).

Determinism: the continuation after the last stored bar is ``marketdata.synthetic`` seeded from
(symbol, timeframe, the continuation's first bar time), starting at the last stored close. A
longer continuation starts with exactly the bars of a shorter one, so asking again later, with
or without storing in between, never gives a different value for a bar already served; that is
what keeps ``bars_upsert`` free of conflicts. With no stored bars at all the series starts on
Jan 1 of the year of the first bar needed, at the symbol profile's typical price.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping
from datetime import date

import pandas as pd

from marketdata import calendar, synthetic, timeframes
from nusatrade.errors import BrokerError
from trading.brokers.base import (
    BAR_COLUMNS,
    BrokerClient,
    Clock,
    InstrumentSpec,
    empty_bars,
    utc_now,
    validate_count,
)

# (symbol, timeframe, until, count) -> stored bars with time <= until (at least the last
# ``count`` of them when there are that many), oldest first, bars convention.
HistoryLoader = Callable[[str, str, pd.Timestamp, int], pd.DataFrame]


class PaperBroker(BrokerClient):
    """Simulated market data for paper accounts (bars are stored with ``synthetic=True``)."""

    name = "paper"
    synthetic = True

    def __init__(self, specs: Mapping[str, InstrumentSpec], *, history: HistoryLoader | None = None,
                 clock: Clock = utc_now, holidays: Iterable[date] | None = None,
                 seed: int = 0) -> None:
        self._specs = dict(specs)
        self._history = history
        self._clock = clock
        self._holidays = tuple(holidays) if holidays is not None else None
        self._seed = seed

    def symbol_info(self, symbol: str) -> InstrumentSpec:
        try:
            return self._specs[symbol]
        except KeyError:
            raise BrokerError(f"paper broker: unknown symbol {symbol!r}") from None

    def _holidays_around(self, now: pd.Timestamp) -> tuple[date, ...]:
        if self._holidays is not None:
            return self._holidays
        return calendar.default_holidays(now.year - 1, now.year + 1)

    def latest_closed_bars(self, symbol: str, timeframe: str, count: int) -> pd.DataFrame:
        tf = timeframes.get(timeframe)
        count = validate_count(count)
        self.symbol_info(symbol)
        now = calendar.to_utc_timestamp(self._clock())
        last = calendar.last_closed_bar(now, tf.name, self._holidays_around(now))
        if last is None:
            return empty_bars()
        stored = self._stored(symbol, tf.name, last, count)
        if len(stored) and stored.index[-1] >= last:
            return stored.tail(count)
        continuation = self._continue(symbol, tf, stored, last, count)
        frames = [f for f in (stored, continuation) if len(f)]
        return pd.concat(frames).tail(count) if frames else empty_bars()

    def _stored(self, symbol: str, timeframe: str, last: pd.Timestamp,
                count: int) -> pd.DataFrame:
        if self._history is None:
            return empty_bars()
        frame = self._history(symbol, timeframe, last, count)
        frame = frame[frame.index <= last].reindex(columns=BAR_COLUMNS)
        return frame.astype("float64")

    def _continue(self, symbol: str, tf: timeframes.Timeframe, stored: pd.DataFrame,
                  last: pd.Timestamp, count: int) -> pd.DataFrame:
        if len(stored):
            start = stored.index[-1] + tf.delta
            price = float(stored["close"].iloc[-1])
        else:
            earliest = last - tf.delta * int(count * 1.5) - pd.Timedelta(days=14)
            start = pd.Timestamp(year=earliest.year, month=1, day=1, tz="UTC")
            price = synthetic.profile_for(symbol).typical_price
        key = f"{symbol}|{tf.name}|{start.isoformat()}".encode()
        seed = zlib.crc32(key) ^ (self._seed & 0xFFFFFFFF)
        return synthetic.generate_range(start, last + tf.delta, tf.name, seed, symbol=symbol,
                                        start_price=price, holidays=self._holidays)
