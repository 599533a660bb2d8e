"""Is the data fresh and complete enough to trade on? (pure: no Django)

The cycle runs a few seconds after each bar close. Before it computes a single feature it asks
two questions, both answered from ``marketdata.calendar`` (the forex week, holidays, shoulders
and the metals' daily break) and never from the wall clock alone:

1. :func:`market_open`: did the bar that has just closed belong to open market hours? If not
   (a weekend or a holiday), the cycle does nothing at all: no signal, no HOLD row. Shoulder
   bars and the metals' optional break hour count as open: their bars may exist.
2. :func:`check_fresh`: is the latest closed bar we hold the one the calendar expects (or only
   optional shoulder bars are missing after it), and is the lookback window free of gaps inside
   trading hours? If not, the cycle records a HOLD with the verdict's ``reason``.

Stale or incomplete data never trades: a broker feed that stopped an hour ago would otherwise
make the model decide on an old bar as if it were the current one.

A bar's time is its OPEN time; a bar opened at ``t`` is closed at ``t + timeframe``. A bar
still forming at ``now`` (or one stamped in the future) is ignored here, never used: that is
the cycle's guard against look-ahead on the live path.

Grids: bars of an hour or less sit on the UTC grid. H4 and D1 bars sit on the forex-day grid
the stored bars are resampled on (``marketdata.calendar.session_bins``, ``"ny17"`` by default:
D1 from 17:00 New York, H4 at 17, 21, 01, 05, 09, 13 New York, DST-aware), which is also the
grid the beat schedules fire on (``trading.cycle.schedule``). Every bar boundary here comes from
``session_bins``: no second copy of the grid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from marketdata import calendar, timeframes
from marketdata.calendar import FOREX, Session
from nusatrade.errors import DataError

# Verdict reasons: stable codes, recorded as the HOLD reason (docs/auto-trading.md).
OK = "ok"
NO_DATA = "no_data"
STALE = "stale_data"
INSUFFICIENT = "insufficient_history"
GAP = "gap_in_lookback"
INVALID = "invalid_data"
NO_EXPECTED_BAR = "no_expected_bar"

Holidays = Iterable[date | str | datetime]


@dataclass(frozen=True)
class FreshnessVerdict:
    """``ok`` or not, a stable ``reason`` code, a human ``message``, and the bar to decide on
    (the latest closed bar held; None when there is none)."""

    ok: bool
    reason: str
    message: str
    bar_time: pd.Timestamp | None = None


def _step(timeframe: str) -> pd.Timedelta:
    return timeframes.get(timeframe).delta


def _step_ns(timeframe: str) -> int:
    return int(_step(timeframe).value)


def _on_day_grid(timeframe: str) -> bool:
    """Whether ``timeframe``'s bars count from the trading day's start (H4, D1) rather than
    sitting on the plain UTC grid (an hour or less): ``session_bins``' own rule."""
    return _step_ns(timeframe) > calendar.HOUR_NS


def _bins(ns: np.ndarray, timeframe: str) -> tuple[np.ndarray, np.ndarray]:
    """(open, close) in UTC ns of the ``timeframe`` bar holding each time: the stored bars'
    grid (``calendar.session_bins`` on the default forex-day boundary)."""
    return calendar.session_bins(np.asarray(ns, dtype="int64"), _step_ns(timeframe),
                                 calendar.DEFAULT_DAY_BOUNDARY)


def _ns(value: datetime | pd.Timestamp) -> int:
    return int(calendar.to_utc_timestamp(value).as_unit("ns").value)


def _stamp(ns: int) -> pd.Timestamp:
    return calendar.utc_index(np.array([ns], dtype="int64"))[0]


def _bar_close_ns(bar_ns: int, timeframe: str) -> int:
    return int(_bins(np.array([bar_ns]), timeframe)[1][0])


def _current_open_ns(now: datetime | pd.Timestamp, timeframe: str) -> int:
    """Open of the bar forming at ``now``: the latest bar close at or before ``now``, the
    instant ``schedule.bar_close_at_or_before`` fires on (the same ``session_bins``)."""
    return int(_bins(np.array([_ns(now)]), timeframe)[0][0])


def just_closed_bar(now: datetime | pd.Timestamp, timeframe: str) -> pd.Timestamp:
    """Open time of the bar whose period ended at the latest grid boundary at or before ``now``
    (UTC grid up to H1, the forex-day grid for H4 and D1), whether or not the market was open
    then."""
    current = _current_open_ns(now, timeframe)
    return _stamp(int(_bins(np.array([current - 1]), timeframe)[0][0]))


def _open_hours(start_ns: int, end_ns: int, holidays: Holidays) -> np.ndarray:
    """The whole UTC hours in ``[start, end)`` that are open market (the calendar's rule: a
    bar longer than an hour is open when any hour it covers is)."""
    hours = np.arange(start_ns, end_ns, calendar.HOUR_NS, dtype="int64")
    return hours[calendar.is_open(calendar.utc_index(hours), tuple(holidays))]


def market_open(now: datetime | pd.Timestamp, timeframe: str, holidays: Holidays = ()) -> bool:
    """Whether the bar that has just closed at ``now`` covers open market hours.

    This is the cycle's "is there anything to do" test: on Friday at 22:00:05 UTC the last H1
    bar of the week has just closed (open: process it); at 23:00:05 the bar that closed
    covered only closed hours (do nothing). Shoulder bars count as open, as the calendar says.
    """
    bar = just_closed_bar(now, timeframe)
    if _on_day_grid(timeframe):
        bar_ns = _ns(bar)
        return bool(_open_hours(bar_ns, _bar_close_ns(bar_ns, timeframe), holidays).size)
    return len(calendar.expected_times(bar, bar + _step(timeframe), timeframe, holidays)) > 0


def expected_last_closed_bar(now: datetime | pd.Timestamp, timeframe: str,
                             holidays: Holidays = ()) -> pd.Timestamp | None:
    """Open time of the latest bar a complete feed has closed by ``now`` (the calendar's
    ``last_closed_bar``: Friday's last bar all weekend, skipping holidays; for H4 and D1 the
    bar of the stored grid holding the last open hour before the bar forming at ``now``)."""
    if not _on_day_grid(timeframe):
        return calendar.last_closed_bar(now, timeframe, tuple(holidays))
    current = _current_open_ns(now, timeframe)
    hours = _open_hours(current - 35 * calendar.DAY_NS, current, holidays)
    if not hours.size:
        return None
    return _stamp(int(_bins(hours[-1:], timeframe)[0][0]))


def closed_bars(bars_index: pd.DatetimeIndex, now: datetime | pd.Timestamp,
                timeframe: str) -> pd.DatetimeIndex:
    """The bars of ``bars_index`` already closed at ``now``, sorted and without duplicates.

    A bar still forming (its close after ``now``) or stamped in the future is dropped: it
    must never reach a decision (no look-ahead). Naive times raise DataError.
    """
    ns = calendar.to_ns(bars_index)
    if _on_day_grid(timeframe):
        ns = ns[_bins(ns, timeframe)[1] <= _ns(now)]
    else:
        ns = ns[ns <= _ns(now) - _step_ns(timeframe)]
    # Bars from the database arrive sorted and unique: check before paying for a sort
    # (np.unique hashes and costs ten times the rest of this check on 5,000 bars).
    if ns.size > 1 and not bool(np.all(ns[1:] > ns[:-1])):
        ns = np.sort(ns)
        ns = ns[np.r_[True, ns[1:] != ns[:-1]]]
    return calendar.utc_index(ns)


def _find_gaps(times: pd.DatetimeIndex, timeframe: str, holidays: tuple,
               session: Session) -> list[calendar.Gap]:
    """``calendar.find_gaps`` on the stored bars' grid: the calendar's own for an hour or less;
    for H4 and D1 the bars of ``session_bins`` that hold a required hour (``is_required``)
    between the first and the last time. Times off that grid raise DataError."""
    if not _on_day_grid(timeframe):
        return calendar.find_gaps(times, timeframe, holidays, session=session)
    ns = calendar.to_ns(times)
    if ns.size > 1 and not bool(np.all(ns[1:] > ns[:-1])):
        ns = np.unique(ns)
    opens, closes = _bins(ns, timeframe)
    off_grid = np.flatnonzero(opens != ns)
    if off_grid.size:
        raise DataError(f"{off_grid.size} bar time(s) are not on the "
                        f"{calendar.DEFAULT_DAY_BOUNDARY} {timeframe} grid, first "
                        f"{_stamp(int(ns[off_grid[0]])).isoformat()}", column="time")
    if ns.size < 2:
        return []
    hours = np.arange(ns[0], closes[-1], calendar.HOUR_NS, dtype="int64")
    hours = hours[calendar.is_required(calendar.utc_index(hours), holidays, session=session)]
    required, required_close = (np.unique(edge) for edge in _bins(hours, timeframe))
    position = np.searchsorted(ns, required, side="right")
    missing = np.flatnonzero(ns[position - 1] != required)
    if not missing.size:
        return []
    owner = position[missing]
    breaks = np.flatnonzero(np.diff(owner)) + 1
    firsts, lasts = np.r_[0, breaks], np.r_[breaks - 1, missing.size - 1]
    gaps = []
    for first, last in zip(firsts, lasts, strict=True):
        start = _stamp(int(required[missing[first]]))
        end = _stamp(int(required_close[missing[last]]))
        gaps.append(calendar.Gap(start=start, end=end, missing_bars=int(last - first + 1),
                                 duration=end - start))
    return gaps


def _missing_required(after: pd.Timestamp, upto: pd.Timestamp, timeframe: str,
                      holidays: tuple, session: Session) -> int:
    """Required bars strictly after ``after`` up to and including ``upto`` (shoulder and
    optional-hour bars excluded: a feed may legitimately lack them)."""
    ends = calendar.utc_index(np.array([after.as_unit("ns").value,
                                        _bar_close_ns(_ns(upto), timeframe)]))
    gaps = _find_gaps(ends, timeframe, holidays, session)
    return sum(gap.missing_bars for gap in gaps)


def _stale_verdict(latest: pd.Timestamp, due: pd.Timestamp, timeframe: str, holidays: tuple,
                   session: Session) -> FreshnessVerdict | None:
    if latest >= due:
        return None
    missing = _missing_required(latest, due, timeframe, holidays, session)
    if not missing:
        return None  # only shoulder/optional bars are missing: the feed is up to date
    return FreshnessVerdict(
        False, STALE,
        f"latest closed {timeframe} bar {latest.isoformat()} is older than the expected "
        f"{due.isoformat()}: {missing} required bar(s) missing", latest)


def _lookback_verdict(closed: pd.DatetimeIndex, timeframe: str, holidays: tuple, lookback: int,
                      session: Session) -> FreshnessVerdict | None:
    latest = closed[-1]
    if len(closed) < lookback:
        return FreshnessVerdict(
            False, INSUFFICIENT,
            f"only {len(closed)} closed {timeframe} bar(s) held, the lookback needs {lookback}",
            latest)
    window = closed[-lookback:]
    gaps = _find_gaps(window, timeframe, holidays, session)
    if not gaps:
        return None
    first = gaps[0]
    total = sum(gap.missing_bars for gap in gaps)
    return FreshnessVerdict(
        False, GAP,
        f"{total} required {timeframe} bar(s) missing inside the {lookback}-bar lookback "
        f"({len(gaps)} gap(s), first {first.start.isoformat()} to {first.end.isoformat()})",
        latest)


def check_fresh(bars_index: pd.DatetimeIndex, now: datetime | pd.Timestamp, timeframe: str,
                holidays: Holidays = (), lookback: int = 1, *,
                session: Session = FOREX) -> FreshnessVerdict:
    """The freshness verdict for deciding at ``now`` on bars with open times ``bars_index``.

    Not ok, with a reason code, when: no closed bar is held (``no_data``); the latest closed
    bar is older than the calendar's expected last closed bar with a *required* bar missing in
    between (``stale_data``: allows for the forex week, holidays and shoulder hours); fewer
    than ``lookback`` closed bars are held (``insufficient_history``); a required bar is
    missing inside the last ``lookback`` closed bars (``gap_in_lookback``); the times are
    naive or off the timeframe's grid (``invalid_data``). Otherwise ok, deciding on the
    latest closed bar held.
    """
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1 bar, got {lookback}")
    hol = tuple(holidays)
    try:
        closed = closed_bars(bars_index, now, timeframe)
        due = expected_last_closed_bar(now, timeframe, hol)
        if not len(closed):
            return FreshnessVerdict(False, NO_DATA, f"no closed {timeframe} bar held")
        if due is None:
            return FreshnessVerdict(False, NO_EXPECTED_BAR,
                                    "the calendar expects no closed bar in the last five weeks",
                                    closed[-1])
        verdict = (_stale_verdict(closed[-1], due, timeframe, hol, session)
                   or _lookback_verdict(closed, timeframe, hol, lookback, session))
    except DataError as exc:
        return FreshnessVerdict(False, INVALID, f"bar times rejected: {exc}")
    if verdict is not None:
        return verdict
    return FreshnessVerdict(True, OK, f"latest closed {timeframe} bar "
                                      f"{closed[-1].isoformat()} is current", closed[-1])
