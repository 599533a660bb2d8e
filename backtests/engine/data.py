"""Input checks and the numpy arrays the kernel runs on, prepared once per bars frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import talib

from marketdata.timeframes import TIMEFRAMES
from nusatrade.errors import DataError

PRICE_COLUMNS = ("open", "high", "low", "close")
# Column numbers of ``PreparedBars.ohlc`` (the kernel indexes by these names).
OPEN, HIGH, LOW, CLOSE = 0, 1, 2, 3
NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True, eq=False)
class PreparedBars:
    """Validated bars as contiguous arrays, reusable across runs (a sweep prepares once).

    ``ohlc`` is (n, 4) float64 of bid prices, ``times_ns`` the bar open times (UTC ns),
    ``days`` the UTC day number of each bar (for swaps), ``spread_points`` the bars' optional
    ``spread`` column.
    """

    index: pd.DatetimeIndex
    ohlc: np.ndarray
    times_ns: np.ndarray
    days: np.ndarray
    spread_points: np.ndarray | None
    bar_minutes: float
    _atr_cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.index)

    def atr(self, period: int) -> np.ndarray:
        """TA-Lib ATR (Wilder) over ``period``; value t uses bars up to t only (NaN before)."""
        if period not in self._atr_cache:
            high, low, close = (np.ascontiguousarray(self.ohlc[:, c]) for c in (HIGH, LOW, CLOSE))
            self._atr_cache[period] = talib.ATR(high, low, close, timeperiod=period)
        return self._atr_cache[period]

    def set_atr(self, period: int, values: np.ndarray) -> None:
        """Use ``values`` as ATR(``period``): an ATR computed over a longer history than these
        bars (the live cycle's warm window, so the first bars of a period have the ATR live
        trading had). One value per bar; NaN where undefined."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        if values.shape != (len(self),):
            raise DataError(f"ATR({period}) has {values.shape[0]} values for {len(self)} bars",
                            column="atr")
        self._atr_cache[period] = values

    @property
    def close(self) -> np.ndarray:
        """The close column, contiguous (computed once)."""
        if "close" not in self._cache:
            self._cache["close"] = np.ascontiguousarray(self.ohlc[:, CLOSE])
        return self._cache["close"]

    def bars_per_year(self) -> float:
        """Bars per year of the timeframe whose length is the median bar spacing (forex week:
        5 x 24 h, 52 weeks); an unknown spacing uses the same formula with its minutes."""
        for timeframe in TIMEFRAMES.values():
            if abs(timeframe.minutes - self.bar_minutes) < 1e-9:
                return timeframe.bars_per_year
        return 52 * 5 * 24 * 60 / self.bar_minutes


def prepare_bars(bars: pd.DataFrame | PreparedBars) -> PreparedBars:
    """Check ``bars`` (the project's bars convention) and convert them once."""
    if isinstance(bars, PreparedBars):
        return bars
    _validate_frame(bars)
    ohlc = np.ascontiguousarray(bars.loc[:, list(PRICE_COLUMNS)].to_numpy(np.float64))
    _validate_prices(ohlc)
    index = bars.index
    times_ns = np.ascontiguousarray(index.as_unit("ns").asi8)
    spread = None
    if "spread" in bars.columns:
        spread = np.ascontiguousarray(bars["spread"].to_numpy(np.float64))
        _validate_spread_column(spread)
    minutes = float(np.median(np.diff(times_ns))) / 60e9 if len(times_ns) > 1 else 60.0
    return PreparedBars(index=index, ohlc=ohlc, times_ns=times_ns,
                        days=times_ns // NS_PER_DAY, spread_points=spread, bar_minutes=minutes)


@dataclass(frozen=True, eq=False)
class FinerBars:
    """Lower-timeframe bars and, for each bar of the backtest, the slice of them inside it
    (``ranges[j] = (start, end)``). Used only to order SL and TP inside one bar."""

    ohlc: np.ndarray
    ranges: np.ndarray

    @classmethod
    def none(cls) -> FinerBars:
        return cls(np.empty((0, 4)), np.empty((0, 2), dtype=np.int64))


def prepare_finer(prepared: PreparedBars,
                  finer: pd.DataFrame | PreparedBars | FinerBars | None) -> FinerBars:
    """Map ``finer`` bars (e.g. M1 under H1) to the bars of ``prepared``: bar j holds the
    finer bars opening in ``[open_j, open_j + bar length)``. A ``FinerBars`` is taken as
    already mapped to these bars."""
    if finer is None:
        return FinerBars.none()
    if isinstance(finer, FinerBars):
        if len(finer.ranges) not in (0, len(prepared)):
            raise DataError("these finer bars were mapped to other bars", column="time")
        return finer
    fine = prepare_bars(finer)
    if fine.bar_minutes >= prepared.bar_minutes:
        raise DataError(f"finer bars ({fine.bar_minutes:g} min) must be shorter than the "
                        f"backtest's bars ({prepared.bar_minutes:g} min)", column="time")
    length = round(prepared.bar_minutes * 60e9)
    starts = np.searchsorted(fine.times_ns, prepared.times_ns, side="left")
    ends = np.searchsorted(fine.times_ns, prepared.times_ns + length, side="left")
    return FinerBars(fine.ohlc, np.ascontiguousarray(np.stack([starts, ends], axis=1)))


def prepare_signals(signals: object, prepared: PreparedBars, confidence: object | None,
                    min_confidence: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Signals as int8 (+1 BUY, -1 SELL, 0 HOLD) and confidence as float64, checked against
    the bars; signals whose confidence is below ``min_confidence`` become HOLD."""
    values = _aligned(signals, prepared, "signals")
    if not np.all(np.isfinite(values)) or np.any((values != 0) & (np.abs(values) != 1)):
        bad = int(np.flatnonzero(~np.isin(values, (-1, 0, 1)))[0])
        raise DataError(f"signals must be -1, 0 or +1; got {values[bad]!r}",
                        line=bad, column="signal")
    sig = values.astype(np.int8)
    if confidence is None:
        return sig, None
    conf = _aligned(confidence, prepared, "confidence").astype(np.float64)
    if min_confidence > 0:
        sig = np.where(conf >= min_confidence, sig, 0).astype(np.int8)
    return sig, conf


def _aligned(values: object, prepared: PreparedBars, name: str) -> np.ndarray:
    if isinstance(values, pd.Series) and not values.index.equals(prepared.index):
        raise DataError(f"{name} index differs from the bars index", column=name)
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (len(prepared),):
        raise DataError(f"{name} has shape {array.shape}, expected ({len(prepared)},)",
                        column=name)
    return array


def _validate_frame(bars: pd.DataFrame) -> None:
    missing = [c for c in PRICE_COLUMNS if c not in bars.columns]
    if missing:
        raise DataError(f"bars lack columns {missing}", column=missing[0])
    index = bars.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataError("bars need a timezone-aware DatetimeIndex (UTC bar open times)")
    if str(index.tz) != "UTC":
        raise DataError(f"bars index must be in UTC, not {index.tz}")
    if len(index) < 2:
        raise DataError("a backtest needs at least 2 bars")
    steps = np.diff(index.as_unit("ns").asi8)
    if np.any(steps <= 0):
        row = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise DataError("bar times must be strictly increasing (duplicate or unsorted)",
                        line=row, column="time")


def _validate_prices(ohlc: np.ndarray) -> None:
    finite = np.isfinite(ohlc) & (ohlc > 0)
    if not finite.all():
        row, col = (int(x) for x in np.argwhere(~finite)[0])
        raise DataError("prices must be finite and positive", line=row,
                        column=PRICE_COLUMNS[col])
    body_high = np.maximum(ohlc[:, OPEN], ohlc[:, CLOSE])
    body_low = np.minimum(ohlc[:, OPEN], ohlc[:, CLOSE])
    bad = (ohlc[:, HIGH] < body_high) | (ohlc[:, LOW] > body_low)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError("high/low do not contain open and close", line=row, column="high")


def _validate_spread_column(spread: np.ndarray) -> None:
    bad = ~(np.isfinite(spread) & (spread >= 0))
    if bad.any():
        raise DataError("spread must be finite and >= 0", line=int(np.flatnonzero(bad)[0]),
                        column="spread")
