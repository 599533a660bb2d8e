"""Validate a bars DataFrame once and turn it into contiguous numpy arrays (pure).

The feature code trusts what comes out of here: UTC hourly open times strictly increasing,
finite positive prices with ``high >= low``, finite non-negative volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdata.timeframes import get as get_timeframe

BASE_TIMEFRAME = get_timeframe("H1")
BASE_NS = int(BASE_TIMEFRAME.delta.value)
PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = (*PRICE_COLUMNS, "volume")


@dataclass(frozen=True, slots=True)
class BarArrays:
    """Bars as float64/int64 arrays: ``time_ns`` is each bar's OPEN time in UTC nanoseconds."""

    time_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.close.size)


def bar_arrays(bars: pd.DataFrame) -> BarArrays:
    """Validated arrays of ``bars`` (see the module docstring), or ``DataError`` saying where."""
    _validate_index(bars)
    _validate_columns(bars)
    cols = {name: np.ascontiguousarray(bars[name].to_numpy(dtype=np.float64))
            for name in REQUIRED_COLUMNS}
    _validate_values(bars.index, cols)
    time_ns = np.ascontiguousarray(bars.index.as_unit("ns").asi8)
    _validate_alignment(bars.index, time_ns)
    return BarArrays(time_ns=time_ns, **cols)


def _validate_index(bars: pd.DataFrame) -> None:
    index = bars.index
    if not isinstance(index, pd.DatetimeIndex):
        raise _data_error("bars need a DatetimeIndex of bar open times", column="time")
    if index.tz is None or str(index.tz) not in ("UTC", "Etc/UTC"):
        raise _data_error(f"bar times must be timezone-aware UTC, not {index.tz}", column="time")
    if not (index.is_monotonic_increasing and index.is_unique):
        raise _data_error("bar times must be strictly increasing", column="time")


def _validate_columns(bars: pd.DataFrame) -> None:
    missing = [name for name in REQUIRED_COLUMNS if name not in bars.columns]
    if missing:
        raise _data_error(f"missing bar columns {missing}", column=missing[0])


def _validate_values(index: pd.DatetimeIndex, cols: dict[str, np.ndarray]) -> None:
    for name, values in cols.items():
        bad = ~np.isfinite(values) | (values <= 0 if name in PRICE_COLUMNS else values < 0)
        if bad.any():
            _raise_at(index, bad, name, "must be finite and positive"
                      if name in PRICE_COLUMNS else "must be finite and non-negative")
    inverted = cols["high"] < cols["low"]
    if inverted.any():
        _raise_at(index, inverted, "high", "is below low")


def _validate_alignment(index: pd.DatetimeIndex, time_ns: np.ndarray) -> None:
    # The higher-timeframe join assumes each row is one whole H1 bar starting on the hour.
    misaligned = time_ns % BASE_NS != 0
    if misaligned.any():
        _raise_at(index, misaligned, "time", "is not the open of an H1 bar (on the hour)")


def _data_error(message: str, **where: object) -> Exception:
    """``nusatrade.errors.DataError``, imported only when raising.

    Importing the ``nusatrade`` package runs its ``__init__``, which loads the Celery app and
    with it Django; this pure module must not pull that in on the normal path.
    """
    from nusatrade.errors import DataError as _DataError

    return _DataError(message, **where)  # type: ignore[arg-type]


def _raise_at(index: pd.DatetimeIndex, bad: np.ndarray, column: str, what: str) -> None:
    row = int(np.flatnonzero(bad)[0])
    raise _data_error(f"value at {index[row]} {what}", line=row, column=column)
