"""The forex week in UTC: when bars exist, when they must exist, and where they are missing.

Pure: no Django. Everything is vectorised on int64 nanoseconds, so half a million timestamps take
milliseconds.

Rules (see docs/marketdata-derived.md):

- A *forex trading day* D runs from D-1 22:00 UTC to D 22:00 UTC (17:00 New York in winter).
  Monday's trading day opens on Sunday 22:00 UTC, Friday's closes on Friday 22:00 UTC, so the
  market is closed from Friday 22:00 UTC to Sunday 22:00 UTC (``WEEK_CLOSE`` / ``WEEK_OPEN``).
- A holiday (a date, e.g. Dec 25) closes that whole trading day.
- Brokers follow New York's daylight saving time, so in summer they open and close an hour
  earlier in UTC, and many open a little late. The hour on each side of every open/close
  boundary is a *shoulder*: a bar there is allowed (not "bar during closure") and a missing
  bar there is not a gap.
- A :class:`Session` may add *optional hours* every day (metals' daily maintenance break, which
  also moves with DST): bars there are allowed and never required.
- A bar of a timeframe longer than an hour is open/required when any hour it covers is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from marketdata import timeframes
from nusatrade.errors import DataError

MINUTE_NS = 60 * 1_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS

# The weekly close and open in UTC (named for documentation; the arithmetic uses DAY_ROLL_HOUR).
WEEK_CLOSE = "Friday 22:00 UTC"
WEEK_OPEN = "Sunday 22:00 UTC"
# A trading day rolls over at 22:00 UTC: the day of time t is the UTC date of t + 2 h.
DAY_ROLL_HOUR = 22
_ROLL_SHIFT_NS = (24 - DAY_ROLL_HOUR) * HOUR_NS
# How far on each side of an open/close boundary bars are optional (DST shift, late opens).
SHOULDER = pd.Timedelta(hours=1)
_SHOULDER_NS = HOUR_NS
# 1970-01-01 (day 0) was a Thursday; Monday = 0.
_EPOCH_WEEKDAY = 3
# (month, day) pairs that are holidays every year unless told otherwise.
DEFAULT_HOLIDAY_DATES: tuple[tuple[int, int], ...] = ((12, 25), (1, 1))
# Output resolution of every DatetimeIndex we build (pandas 3's default; whole minutes anyway).
INDEX_UNIT = "us"


@dataclass(frozen=True)
class Session:
    """Per-instrument-class trading hours on top of the forex week."""

    name: str
    # UTC hours [h, h+1) in which bars are optional every trading day.
    optional_hours_utc: tuple[int, ...] = ()


FOREX = Session("forex")
# CME metals break 17:00-18:00 New York: 21:00-22:00 UTC in summer, 22:00-23:00 UTC in winter.
METALS = Session("metals", optional_hours_utc=(21, 22))
_METAL_PREFIXES = ("XAU", "XAG", "XPT", "XPD")


def session_for(symbol: str) -> Session:
    """The session of ``symbol``: metals (XAU*, XAG*, XPT*, XPD*) have a daily break."""
    return METALS if symbol.upper().startswith(_METAL_PREFIXES) else FOREX


@dataclass(frozen=True)
class Gap:
    """Consecutive missing required bars between two present bars.

    ``start`` is the open time of the first missing bar, ``end`` the close time of the last one
    (its open + the timeframe), ``duration`` is ``end - start`` on the wall clock (it includes
    any closed hours inside), ``missing_bars`` counts only bars that were required.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    missing_bars: int
    duration: pd.Timedelta


def default_holidays(first_year: int, last_year: int) -> tuple[date, ...]:
    """Dec 25 and Jan 1 of every year from ``first_year`` to ``last_year`` inclusive."""
    return tuple(date(year, month, day) for year in range(first_year, last_year + 1)
                 for month, day in DEFAULT_HOLIDAY_DATES)


def to_ns(times: pd.DatetimeIndex | pd.Series | Iterable[datetime]) -> np.ndarray:
    """Timezone-aware UTC times as int64 nanoseconds since the epoch (DataError when naive)."""
    index = pd.DatetimeIndex(times)
    if index.tz is None:
        raise DataError("times must be timezone-aware UTC, got naive timestamps", column="time")
    return index.tz_convert("UTC").as_unit("ns").asi8


def utc_index(ns: np.ndarray) -> pd.DatetimeIndex:
    """The bars-convention index (UTC, named "time") for int64 nanoseconds."""
    values = np.asarray(ns, dtype="int64").astype("datetime64[ns]")
    return pd.DatetimeIndex(values, name="time").as_unit(INDEX_UNIT).tz_localize("UTC")


def to_utc_timestamp(value: str | datetime | pd.Timestamp) -> pd.Timestamp:
    """A UTC timestamp; naive input is taken as UTC (strings such as "2005-01-03")."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


def _holiday_days(holidays: Iterable[date | str | datetime]) -> np.ndarray:
    days = [pd.Timestamp(h).date() for h in holidays]
    return np.array(sorted({(d - date(1970, 1, 1)).days for d in days}), dtype="int64")


def _trading_day(day: np.ndarray, holiday_days: np.ndarray) -> np.ndarray:
    weekday = (day + _EPOCH_WEEKDAY) % 7
    is_trading = weekday < 5
    if holiday_days.size:
        is_trading &= ~np.isin(day, holiday_days)
    return is_trading


def _open_points(ns: np.ndarray, holiday_days: np.ndarray) -> np.ndarray:
    return _trading_day((ns + _ROLL_SHIFT_NS) // DAY_NS, holiday_days)


def _shoulder_points(ns: np.ndarray, holiday_days: np.ndarray) -> np.ndarray:
    shifted = ns + _ROLL_SHIFT_NS
    day = shifted // DAY_NS
    into_day = shifted - day * DAY_NS
    near_start = into_day < _SHOULDER_NS
    near_end = into_day >= DAY_NS - _SHOULDER_NS
    partner = np.where(near_start, day - 1, day + 1)
    changes = _trading_day(day, holiday_days) != _trading_day(partner, holiday_days)
    return (near_start | near_end) & changes


def _required_points(ns: np.ndarray, holiday_days: np.ndarray, session: Session) -> np.ndarray:
    required = _open_points(ns, holiday_days) & ~_shoulder_points(ns, holiday_days)
    if session.optional_hours_utc:
        hour = (ns // HOUR_NS) % 24
        required &= ~np.isin(hour, np.array(session.optional_hours_utc, dtype="int64"))
    return required


def _over_bar(ns: np.ndarray, tf: timeframes.Timeframe, points) -> np.ndarray:
    """``points`` evaluated for each bar: true when it holds at any hour the bar covers.

    Every calendar boundary falls on a whole UTC hour, so a bar of an hour or less is entirely
    on one side of each boundary and its open time decides.
    """
    hours = tf.minutes // 60
    if hours <= 1:
        return points(ns)
    offsets = np.arange(hours, dtype="int64") * HOUR_NS
    return points((ns[:, None] + offsets).ravel()).reshape(-1, hours).any(axis=1)


def _step_ns(tf: timeframes.Timeframe) -> int:
    return tf.minutes * MINUTE_NS


def is_open(times: pd.DatetimeIndex, holidays: Iterable[date] = ()) -> np.ndarray:
    """For each time, whether the forex market is open at that instant (shoulders count as the
    constants say: open Sunday 22:00 to Friday 22:00 UTC, holidays closed)."""
    return _open_points(to_ns(times), _holiday_days(holidays))


def is_required(times: pd.DatetimeIndex, holidays: Iterable[date] = (), *,
                session: Session = FOREX) -> np.ndarray:
    """For each time, whether it is open and outside every shoulder and optional hour."""
    return _required_points(to_ns(times), _holiday_days(holidays), session)


def expected_times(start: str | datetime | pd.Timestamp, end: str | datetime | pd.Timestamp,
                   timeframe: str, holidays: Iterable[date] = ()) -> pd.DatetimeIndex:
    """Open times of every bar in ``[start, end)`` on the timeframe's UTC grid that covers open
    market hours: what a complete feed has by the constants (shoulder bars included)."""
    tf = timeframes.get(timeframe)
    step = _step_ns(tf)
    first = -(-int(to_utc_timestamp(start).as_unit("ns").value) // step) * step
    stop = int(to_utc_timestamp(end).as_unit("ns").value)
    grid = np.arange(first, max(first, stop), step, dtype="int64")
    hol = _holiday_days(holidays)
    return utc_index(grid[_over_bar(grid, tf, lambda ns: _open_points(ns, hol))])


def last_closed_bar(now: datetime | pd.Timestamp, timeframe: str,
                    holidays: Iterable[date] = ()) -> pd.Timestamp | None:
    """Open time of the latest expected bar whose period has ended at ``now`` (None if none in
    the last five weeks, e.g. a long holiday list)."""
    tf = timeframes.get(timeframe)
    step = _step_ns(tf)
    now_ns = int(to_utc_timestamp(now).as_unit("ns").value)
    end = (now_ns - step) // step * step + step  # bars opened at or before now - step
    times = expected_times(utc_index(np.array([end - 35 * DAY_NS]))[0],
                           utc_index(np.array([end]))[0], tf.name, holidays)
    return times[-1] if len(times) else None


def _sorted_unique(ns: np.ndarray) -> np.ndarray:
    # np.unique hashes in numpy 2.x (slow on 500k values); sorting is cheaper and bars usually
    # arrive sorted already.
    if ns.size > 1 and not bool(np.all(ns[1:] > ns[:-1])):
        ns = np.sort(ns)
        ns = ns[np.r_[True, ns[1:] != ns[:-1]]]
    return ns


def _validate_aligned(ns: np.ndarray, tf: timeframes.Timeframe) -> None:
    off_grid = np.flatnonzero(ns % _step_ns(tf))
    if off_grid.size:
        first = utc_index(ns[off_grid[:1]])[0]
        raise DataError(f"{off_grid.size} bar time(s) are not on the UTC {tf.name} grid, "
                        f"first {first.isoformat()}", column="time")


def find_gaps(times: pd.DatetimeIndex, timeframe: str, holidays: Iterable[date] = (), *,
              session: Session = FOREX) -> list[Gap]:
    """Runs of missing *required* bars between the first and the last of ``times``.

    Weekends, holidays, shoulders and the session's optional hours are never gaps. Duplicate
    times are ignored; times off the timeframe's UTC grid raise DataError.
    """
    tf = timeframes.get(timeframe)
    ns = _sorted_unique(to_ns(times))
    _validate_aligned(ns, tf)
    if ns.size < 2:
        return []
    step = _step_ns(tf)
    grid = np.arange(ns[0], ns[-1] + step, step, dtype="int64")
    hol = _holiday_days(holidays)
    required = _over_bar(grid, tf, lambda p: _required_points(p, hol, session))
    # How many present bars lie at or before each grid point: a missing bar's gap is identified
    # by the present bar just before it.
    position = np.searchsorted(ns, grid, side="right")
    present = ns[position - 1] == grid
    missing = np.flatnonzero(required & ~present)
    if not missing.size:
        return []
    owner = position[missing]
    breaks = np.flatnonzero(np.diff(owner)) + 1
    firsts = np.r_[0, breaks]
    lasts = np.r_[breaks - 1, missing.size - 1]
    starts = utc_index(grid[missing[firsts]])
    ends = utc_index(grid[missing[lasts]] + step)
    counts = lasts - firsts + 1
    return [Gap(start=s, end=e, missing_bars=int(c), duration=e - s)
            for s, e, c in zip(starts, ends, counts, strict=True)]


# --- The trading day as brokers' daily candles cut it -----------------------------------------
# A forex trading day closes at 17:00 New York time, DST-aware (22:00 UTC in winter, 21:00 UTC
# in summer), so a broker's D1 candle runs from 17:00 New York to 17:00 New York and Sunday's
# evening session belongs to Monday's candle. UTC-midnight bins instead cut a two-hour Sunday
# stub (22:00-24:00) off one D1 bar in six. ``"utc"`` keeps the old bins as an option.
DAY_BOUNDARY_NY17 = "ny17"
DAY_BOUNDARY_UTC = "utc"
DAY_BOUNDARIES = (DAY_BOUNDARY_NY17, DAY_BOUNDARY_UTC)
DEFAULT_DAY_BOUNDARY = DAY_BOUNDARY_NY17
FOREX_DAY_ZONE = "America/New_York"
FOREX_DAY_CLOSE_HOUR = 17
# Local wall time + 7 h puts 17:00 New York on midnight: the date after the shift names the day.
_NY17_SHIFT_NS = (24 - FOREX_DAY_CLOSE_HOUR) * HOUR_NS


def validate_day_boundary(boundary: str) -> str:
    """``boundary`` when it is one of ``DAY_BOUNDARIES``; ValueError naming the choices."""
    if boundary not in DAY_BOUNDARIES:
        raise ValueError(f"day boundary must be one of {', '.join(DAY_BOUNDARIES)}, "
                         f"not {boundary!r}")
    return boundary


def _ny17_at(day: np.ndarray) -> np.ndarray:
    """UTC ns of 17:00 New York on the eve of each trading day number (never ambiguous: DST
    switches at 02:00 local)."""
    local = (day * DAY_NS - _NY17_SHIFT_NS).astype("datetime64[ns]")
    return pd.DatetimeIndex(local).tz_localize(FOREX_DAY_ZONE).as_unit("ns").asi8


def trading_days(ns: np.ndarray, boundary: str = DEFAULT_DAY_BOUNDARY,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) in UTC ns of the trading day holding each time (int64 ns, any order).

    ``"ny17"``: [17:00 New York of the eve, 17:00 New York of the day), 23 to 25 hours long
    around a DST switch (which falls on a Sunday morning, when the market is closed).
    ``"utc"``: [00:00 UTC, 24:00 UTC). Vectorised: one time-zone conversion of the times and
    one of the distinct days.
    """
    ns = np.asarray(ns, dtype="int64")
    if validate_day_boundary(boundary) == DAY_BOUNDARY_UTC or not ns.size:
        start = ns // DAY_NS * DAY_NS
        return start, start + DAY_NS
    wall = pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(
        FOREX_DAY_ZONE).tz_localize(None).as_unit("ns").asi8
    day = (wall + _NY17_SHIFT_NS) // DAY_NS
    distinct, which = np.unique(day, return_inverse=True)
    return _ny17_at(distinct)[which], _ny17_at(distinct + 1)[which]


def session_bins(ns: np.ndarray, bin_ns: int, boundary: str = DEFAULT_DAY_BOUNDARY,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) in UTC ns of the ``bin_ns`` bin holding each time, on the trading day's grid.

    Bins of an hour or less are the UTC grid (every day boundary is a whole hour). Longer bins
    that divide a day count from the trading day's start (H4 at 17, 21, 01, ... New York), and
    the day's last bin ends with the day, so a 23- or 25-hour DST day has a short or long last
    bin and no bin straddles two days. ``"utc"`` gives floor(t / bin) bins, as before.
    """
    ns = np.asarray(ns, dtype="int64")
    if bin_ns <= HOUR_NS or validate_day_boundary(boundary) == DAY_BOUNDARY_UTC:
        start = ns // bin_ns * bin_ns
        return start, start + bin_ns
    return bins_in_days(ns, *trading_days(ns, boundary), bin_ns)


def bins_in_days(ns: np.ndarray, day_start: np.ndarray, day_end: np.ndarray, bin_ns: int,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of the ``bin_ns`` bin of each time counted from its trading day's start
    (``trading_days``); the last bin of a day ends with the day."""
    if DAY_NS % bin_ns:
        raise ValueError(f"a bin of {bin_ns / HOUR_NS:g} hours does not divide a trading day")
    last = DAY_NS // bin_ns - 1
    k = np.minimum((ns - day_start) // bin_ns, last)
    start = day_start + k * bin_ns
    return start, np.where(k == last, day_end, start + bin_ns)
