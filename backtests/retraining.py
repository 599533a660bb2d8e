"""The schedule of a retrain-every backtest (pure: no Django imports).

``backtest --model 3 --retrain-every 3M`` walks forward through the backtest period: every
period a model is trained again with the champion's settings, then trades the next segment.
This module says WHICH bars each segment's model may train on and which it trades:

    ...train (sliding: last train_length; expanding: from origin)...│embargo│ traded segment
                                                   last label reads ─┘        └─ first traded bar

A training sample ``i`` reads its label up to bar ``i + horizon``; the purge and embargo rule
is ``mlops.splits.purged_train_end`` (the one rule of the walk-forward splits), so every label
the model learns from ends ``embargo`` (>= horizon) bars before the segment's first traded bar.
The bars given to training stop at that last label bar: a label needing a later bar is then
unknown (NaN) and dropped by the pipeline, never read.

Periods are written ``<count><unit>``: ``30D``, ``2W``, ``3M``, ``1Y`` (upper-case units only:
``m`` would read as minutes). Segment boundaries are ``start + k x period`` on the calendar
(``start + 3 x 1M`` is three calendar months later, not 90 days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops import splits
from nusatrade.errors import DataError

WINDOWS = ("sliding", "expanding")
UNITS = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}
MAX_COUNT = 1000
_PERIOD = re.compile(r"([1-9][0-9]*)([DWMY])")


@dataclass(frozen=True)
class Period:
    """A calendar period: ``count`` days, weeks, months or years."""

    count: int
    unit: str

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def offset(self, times: int = 1) -> pd.DateOffset:
        return pd.DateOffset(**{UNITS[self.unit]: self.count * times})

    def describe(self) -> str:
        name = UNITS[self.unit]
        return f"{self.count} {name[:-1] if self.count == 1 else name}"


def parse_period(text: str) -> Period:
    """``"3M"`` -> ``Period(3, "M")``. DataError saying what is wrong and what is accepted."""
    value = str(text).strip()
    match = _PERIOD.fullmatch(value)
    if match is None:
        raise DataError(f"bad period {text!r}: write a whole number of D (days), W (weeks), "
                        "M (months) or Y (years), e.g. 30D, 2W, 3M, 1Y (units upper-case)",
                        column="period")
    count = int(match.group(1))
    if count > MAX_COUNT:
        raise DataError(f"bad period {text!r}: at most {MAX_COUNT} {UNITS[match.group(2)]}",
                        column="period")
    return Period(count, match.group(2))


@dataclass(frozen=True)
class RetrainPolicy:
    """How often and on which window a retrain-every backtest trains its models."""

    every: Period
    window: str = "sliding"
    train_length: Period | None = None  # sliding only; None: the champion's own length

    def __post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise DataError(f"unknown window {self.window!r}: use sliding or expanding",
                            column="window")
        if self.window == "expanding" and self.train_length is not None:
            raise DataError("--train-length applies to the sliding window only: an expanding "
                            "window starts at the champion's training start", column="window")

    def to_dict(self) -> dict[str, Any]:
        return {"every": str(self.every), "window": self.window,
                "train_length": None if self.train_length is None else str(self.train_length)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrainPolicy:
        length = data.get("train_length")
        return cls(parse_period(data["every"]), data.get("window", "sliding"),
                   None if length is None else parse_period(length))


@dataclass(frozen=True)
class Segment:
    """One model's turn: trained on bars ``[train_first, train_stop)``, trading
    ``[trade_first, trade_stop)`` (positions in the schedule's index; times of those bars)."""

    number: int
    train_first: int
    train_stop: int
    trade_first: int
    trade_stop: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    trade_start: pd.Timestamp
    trade_end: pd.Timestamp
    last_label: pd.Timestamp  # the last training sample; its label reads up to train_end

    @property
    def train_bars(self) -> int:
        return self.train_stop - self.train_first

    @property
    def trade_bars(self) -> int:
        return self.trade_stop - self.trade_first

    def to_dict(self) -> dict[str, Any]:
        return {"segment": self.number, "train_start": self.train_start.isoformat(),
                "train_end": self.train_end.isoformat(),
                "last_label": self.last_label.isoformat(), "train_bars": self.train_bars,
                "trade_start": self.trade_start.isoformat(),
                "trade_end": self.trade_end.isoformat(), "trade_bars": self.trade_bars}


def retrain_schedule(index: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp,
                     every: Period, window: str = "sliding",
                     train_length: Period | pd.Timedelta | None = None, horizon: int = 1,
                     embargo: int | None = None, origin: pd.Timestamp | None = None,
                     ) -> list[Segment]:
    """The segments from ``start`` to ``end`` (inclusive) of the bars ``index``.

    Segment k trades the bars opened in ``[start + k x every, start + (k+1) x every)`` up to
    ``end``; calendar periods without a bar are skipped. Its model trains on the bars from
    ``segment start - train_length`` (sliding) or ``origin`` (expanding; default the first
    bar) up to the last bar its last label may read (purge + embargo, see the module doc).
    DataError when a segment has nothing to train on or the period holds no bar.
    """
    _validate_index(index)
    embargo = _embargo(horizon, embargo)
    _validate_window(window, train_length)
    segments: list[Segment] = []
    last = int(index.searchsorted(end, side="right"))
    k = 0
    while (boundary := start + every.offset(k)) <= end:
        first = int(index.searchsorted(boundary, side="left"))
        stop = min(int(index.searchsorted(start + every.offset(k + 1), side="left")), last)
        k += 1
        if stop > first:
            train_from = origin if window == "expanding" else _before(boundary, train_length)
            segments.append(_segment(index, len(segments) + 1, train_from, first, stop,
                                     horizon, embargo, boundary))
    if not segments:
        raise DataError(f"no bar from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}",
                        column="start")
    return segments


def _segment(index: pd.DatetimeIndex, number: int, train_from: pd.Timestamp | None,
             first: int, stop: int, horizon: int, embargo: int,
             boundary: pd.Timestamp) -> Segment:
    label_stop = splits.purged_train_end(first, horizon, embargo)  # samples i < label_stop
    train_stop = label_stop + horizon  # the bars those labels read (the last one included)
    train_first = 0 if train_from is None else int(index.searchsorted(train_from, side="left"))
    if label_stop - train_first < 1:
        raise DataError(f"segment {number} (trading from {boundary:%Y-%m-%d}): no bar to train "
                        f"on before it (purge {horizon} + embargo {embargo} bars); start later "
                        "or lengthen the training window", column="start")
    return Segment(number=number, train_first=train_first, train_stop=train_stop,
                   trade_first=first, trade_stop=stop, train_start=index[train_first],
                   train_end=index[train_stop - 1], trade_start=index[first],
                   trade_end=index[stop - 1], last_label=index[label_stop - 1])


def _before(moment: pd.Timestamp, length: Period | pd.Timedelta | None) -> pd.Timestamp:
    return moment - (length.offset() if isinstance(length, Period) else length)


def _validate_index(index: pd.DatetimeIndex) -> None:
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataError("the bars' index must be a timezone-aware DatetimeIndex", column="index")
    if not (index.is_monotonic_increasing and index.is_unique):
        raise DataError("the bars' index must be strictly increasing", column="index")


def _embargo(horizon: int, embargo: int | None) -> int:
    try:
        return splits.resolve_embargo(horizon, embargo)
    except ValueError as exc:
        raise DataError(str(exc), column="horizon") from None


def _validate_window(window: str, train_length: Period | pd.Timedelta | None) -> None:
    if window not in WINDOWS:
        raise DataError(f"unknown window {window!r}: use sliding or expanding", column="window")
    if window == "sliding":
        if train_length is None:
            raise DataError("a sliding window needs a training length", column="train_length")
        if isinstance(train_length, pd.Timedelta) and train_length <= pd.Timedelta(0):
            raise DataError("the training length must be positive", column="train_length")


def segment_numbers(times: pd.DatetimeIndex | np.ndarray, segments: list[Segment]) -> np.ndarray:
    """For each time, the number of the segment trading at it (by the segments' first
    traded bars); 0 before the first segment."""
    starts = pd.DatetimeIndex([s.trade_start for s in segments])
    numbers = np.array([s.number for s in segments])
    at = starts.searchsorted(pd.DatetimeIndex(times), side="right") - 1
    return np.where(at >= 0, numbers[np.maximum(at, 0)], 0)
