"""Derived bars: synthetic sample data and resampled timeframes, stored through ``bars_upsert``.

Services behind the ``generate_sample_data`` and ``resample_bars`` commands. Both are
idempotent (a rerun inserts nothing and reports every bar unchanged) and both keep synthetic
data marked: generated bars are stored with ``synthetic=True``, and a resampled bar is
synthetic when any bar it was built from is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from marketdata import calendar, timeframes
from marketdata.models import Bar
from marketdata.resample import resample_bars, validate_timeframes
from marketdata.selectors import load_bars
from marketdata.services import UpsertResult, bars_upsert, instrument_get
from marketdata.services.upsert import validate_no_real_bars
from marketdata.synthetic import generate_bars, profile_for

DEFAULT_SAMPLE_START = "2005-01-03"


@dataclass(frozen=True)
class DerivedResult:
    """What a derived-bars service stored."""

    symbol: str
    timeframe: str
    bars: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    inserted: int
    unchanged: int
    conflicts: int
    synthetic_bars: int

    def span(self) -> str:
        if self.first is None or self.last is None:
            return "no bars"
        return f"{self.first:%Y-%m-%d %H:%M}..{self.last:%Y-%m-%d %H:%M} UTC"

    def counts(self) -> str:
        return (f"inserted {self.inserted:,}, unchanged {self.unchanged:,}, "
                f"conflicts {self.conflicts:,}")


def _result(symbol: str, timeframe: str, frame: pd.DataFrame, outcomes: list[UpsertResult],
            synthetic_bars: int) -> DerivedResult:
    return DerivedResult(
        symbol=symbol, timeframe=timeframe, bars=len(frame),
        first=frame.index[0] if len(frame) else None, last=frame.index[-1] if len(frame) else None,
        inserted=sum(o.inserted for o in outcomes), unchanged=sum(o.unchanged for o in outcomes),
        conflicts=sum(len(o.conflicts) for o in outcomes), synthetic_bars=synthetic_bars,
    )


def bars_generate_sample(symbol: str, timeframe: str = "H1", *, years: float = 21,
                         seed: int = 42, start: str = DEFAULT_SAMPLE_START,
                         start_price: float | None = None) -> DerivedResult:
    """Generate ``years`` of synthetic bars (``marketdata.synthetic``) and store them marked
    ``synthetic=True``. DataError if the series already holds real bars."""
    tf = timeframes.get(timeframe).name
    instrument = instrument_get(symbol)
    validate_no_real_bars(instrument, tf)
    price = start_price if start_price is not None else profile_for(instrument.symbol).start_price
    frame = generate_bars(tf, years, seed, symbol=instrument.symbol, start=start,
                          start_price=price)
    outcome = bars_upsert(instrument.symbol, tf, frame, synthetic=True)
    return _result(instrument.symbol, tf, frame, [outcome], synthetic_bars=len(frame))


def _synthetic_bins(instrument_id: int, source: str, target: timeframes.Timeframe,
                    frame: pd.DataFrame, day_boundary: str) -> np.ndarray:
    """Open times (int64 ns) of the target bins that contain a synthetic source bar."""
    step = target.minutes * calendar.MINUTE_NS
    if not frame.attrs.get("synthetic", False):
        return np.array([], dtype="int64")
    synthetic = Bar.objects.filter(
        instrument_id=instrument_id, timeframe=source, synthetic=True,
        time__gte=frame.index[0].to_pydatetime(), time__lte=frame.index[-1].to_pydatetime())
    if synthetic.count() == len(frame):  # all of it (sample data): no need to list the times
        ns = calendar.to_ns(frame.index)
    else:
        ns = calendar.to_ns(pd.DatetimeIndex(list(synthetic.values_list("time", flat=True)),
                                             tz="UTC"))
    return np.unique(calendar.session_bins(ns, step, day_boundary)[0])


def bars_resample(symbol: str, from_timeframe: str, to_timeframe: str, *,
                  start: str | datetime | None = None,
                  end: str | datetime | None = None,
                  day_boundary: str = calendar.DEFAULT_DAY_BOUNDARY) -> DerivedResult:
    """Build complete ``to_timeframe`` bars from stored ``from_timeframe`` bars (rules in
    ``marketdata.resample``) and store them; synthetic where any source bar is. D1 and H4 bins
    follow the forex day (17:00 New York) unless ``day_boundary="utc"``."""
    calendar.validate_day_boundary(day_boundary)
    source = timeframes.get(from_timeframe).name
    target = timeframes.get(to_timeframe)
    validate_timeframes(timeframes.get(source), target)
    instrument = instrument_get(symbol)
    frame = load_bars(instrument.symbol, source, start, end)
    if frame.empty:
        return _result(instrument.symbol, target.name, frame, [], 0)
    holidays = calendar.default_holidays(frame.index[0].year - 1, frame.index[-1].year + 1)
    out = resample_bars(frame, target.name, from_timeframe=source, holidays=holidays,
                        day_boundary=day_boundary)
    tainted = np.isin(calendar.to_ns(out.index),
                      _synthetic_bins(instrument.pk, source, target, frame, day_boundary))
    outcomes = [bars_upsert(instrument.symbol, target.name, part, synthetic=flag)
                for flag, part in ((False, out[~tainted]), (True, out[tainted])) if len(part)]
    return _result(instrument.symbol, target.name, out, outcomes, int(tainted.sum()))
