"""Resample bars to a longer timeframe on UTC or forex-day boundaries. Pure: no Django.

Rules (docs/marketdata-derived.md):

- Bins are left-closed and left-labelled. ``day_boundary="utc"`` (this module's default, kept
  for the broker adapters and the synthetic generator): aligned to UTC, H4 at 00, 04, 08 ...
  UTC, D1 at 00:00 UTC (the epoch is midnight, and every timeframe divides a day).
  ``day_boundary="ny17"`` (the default of ``resample_bars``'s command and service): D1 is the
  forex trading day, 17:00 to 17:00 New York, DST-aware, as brokers' daily candles are (labelled
  at its UTC start, 22:00 or 21:00 UTC), and H4 bins count from that start; bins of an hour or
  less are the same on both (``marketdata.calendar.session_bins``).
- open = first open, high = max high, low = min low, close = last close, volume = sum.
  spread = the bin's MAX spread (the worst seen: cost estimates stay conservative); NaN spreads
  are skipped, a bin with only NaN spreads gets NaN.
- Empty bins (weekends, holidays) produce no bar.
- No partial last bar: a bin is emitted only when it has ended by the end of the last source
  bar's period (bin end <= last source open + source timeframe). A bin with source bars
  missing inside it is still complete once that time has passed: the gap stays visible in
  volume, not as a missing bar.
- No partial first bar: if the first bin starts before the first source bar and the calendar
  expected source bars in between, the data started mid-bin and that bin is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

from marketdata import calendar, timeframes
from nusatrade.errors import DataError

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = (*PRICE_COLUMNS, "volume")
SPREAD_AGGREGATION = "max"


def _validate_frame(frame: pd.DataFrame) -> np.ndarray:
    """Index checks (UTC, strictly increasing) and no NaN prices; returns int64 ns times."""
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError("bars need a DatetimeIndex of bar open times", column="time")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"bars lack column(s) {', '.join(missing)}", column=missing[0])
    ns = calendar.to_ns(frame.index)
    bad = np.flatnonzero(np.diff(ns) <= 0)
    if bad.size:
        where = frame.index[bad[0] + 1].isoformat()
        raise DataError(f"bar times must be strictly increasing (duplicate or out of order at "
                        f"{where})", column="time")
    for column in REQUIRED_COLUMNS:
        nan = np.flatnonzero(np.isnan(frame[column].to_numpy(dtype="float64")))
        if nan.size:
            raise DataError(f"{nan.size} NaN value(s), first at {frame.index[nan[0]].isoformat()}",
                            column=column)
    return ns


def infer_timeframe(frame: pd.DataFrame) -> str:
    """The timeframe whose length is the smallest step between consecutive bars."""
    ns = calendar.to_ns(frame.index)
    steps = np.diff(ns)
    steps = steps[steps > 0]
    if not steps.size:
        raise DataError("cannot infer the timeframe of fewer than two bars; pass from_timeframe")
    minutes = int(steps.min() // calendar.MINUTE_NS)
    for tf in timeframes.TIMEFRAMES.values():
        if tf.minutes == minutes:
            return tf.name
    raise DataError(f"bars are {minutes} minutes apart: not a known timeframe", column="time")


def _bins(ns: np.ndarray, step: int, day_boundary: str,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin open time and end of every source bar, and the index of each bin's first bar."""
    bins, ends = calendar.session_bins(ns, step, day_boundary)
    starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
    return bins, ends, starts


def aggregate_bins(frame: pd.DataFrame, to_timeframe: str, *,
                   day_boundary: str = calendar.DAY_BOUNDARY_UTC) -> pd.DataFrame:
    """Every non-empty bin of ``frame`` at ``to_timeframe``, partial bins included.

    The building block of :func:`resample_bars` (which drops partial bins) and of the MT5
    simulator's still-forming bar. Hot path: numpy ``reduceat`` over sorted times.
    """
    return _aggregate(frame, to_timeframe, day_boundary)[0]


def _aggregate(frame: pd.DataFrame, to_timeframe: str, day_boundary: str,
               ) -> tuple[pd.DataFrame, np.ndarray]:
    """(bins, each bin's end in ns)."""
    ns = _validate_frame(frame)
    step = timeframes.get(to_timeframe).minutes * calendar.MINUTE_NS
    if not ns.size:
        return _empty(frame), np.array([], dtype="int64")
    bins, bin_ends, starts = _bins(ns, step, day_boundary)
    ends = np.r_[starts[1:], ns.size] - 1
    col = {c: frame[c].to_numpy(dtype="float64") for c in frame.columns if c in
           (*REQUIRED_COLUMNS, "spread")}
    out = {
        "open": col["open"][starts],
        "high": np.maximum.reduceat(col["high"], starts),
        "low": np.minimum.reduceat(col["low"], starts),
        "close": col["close"][ends],
        "volume": np.add.reduceat(col["volume"], starts),
    }
    if "spread" in col:
        out["spread"] = np.fmax.reduceat(col["spread"], starts)
    return pd.DataFrame(out, index=calendar.utc_index(bins[starts])), bin_ends[starts]


def _empty(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [*REQUIRED_COLUMNS, *(["spread"] if "spread" in frame.columns else [])]
    return pd.DataFrame({c: np.array([], dtype="float64") for c in columns},
                        index=calendar.utc_index(np.array([], dtype="int64")))


def validate_timeframes(source: timeframes.Timeframe, target: timeframes.Timeframe) -> None:
    """ValueError unless ``target`` is a whole multiple of ``source``."""
    if target.minutes < source.minutes or target.minutes % source.minutes:
        raise ValueError(f"cannot resample {source.name} to {target.name}: the target must be a "
                         f"whole multiple of the source")


def resample_bars(frame: pd.DataFrame, to_timeframe: str, *, from_timeframe: str | None = None,
                  holidays: Iterable[date] = (),
                  day_boundary: str = calendar.DAY_BOUNDARY_UTC) -> pd.DataFrame:
    """Complete ``to_timeframe`` bars built from ``frame`` (rules in the module docstring).

    ``from_timeframe`` defaults to the smallest step between bars; ``holidays`` only matters
    for deciding whether the first bin started before the data did; ``day_boundary`` is
    ``"utc"`` or ``"ny17"`` (the forex day).
    """
    source = timeframes.get(from_timeframe or infer_timeframe(frame))
    target = timeframes.get(to_timeframe)
    validate_timeframes(source, target)
    ns = _validate_frame(frame)
    if not ns.size:
        return _empty(frame)
    source_step = source.minutes * calendar.MINUTE_NS
    if np.any(ns % source_step):
        raise DataError(f"bar times are not on the UTC {source.name} grid", column="time")
    out, bin_end = _aggregate(frame, target.name, day_boundary)
    bin_ns = calendar.to_ns(out.index)
    keep = bin_end <= ns[-1] + source_step
    if bin_ns[0] < ns[0] and len(calendar.expected_times(out.index[0], frame.index[0],
                                                         source.name, holidays)):
        keep[0] = False
    return out[keep]
