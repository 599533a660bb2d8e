"""The rules a bar must pass before it is stored (pure: no Django).

``validate_bars`` takes what an importer parsed (one row per file line, wall-clock times) and
splits it into clean bars in the product's convention and rejections with their line and
reason. Checks run in this order and a row gets the first reason that applies:

1. ``missing, NaN or infinite value``: open/high/low/close/volume/real volume (spread may be
   unknown, never infinite);
2. ``value out of range``: a price of 10^12 or more, a volume of 10^18 or more, a spread beyond
   a 32-bit integer (the database could not store them);
3. ``non-positive price``; 4. ``high below max(open, close)``; 5. ``low above min(open, close)``;
6. ``negative volume or spread``;
7. ``time not aligned to timeframe``: checked on the file's own clock (a D1 bar of a UTC+2
   broker opens at 00:00 server time, 22:00 UTC);
8. ``local time skipped or repeated by a DST change`` (zones with daylight saving only);
9. duplicates, on UTC time: identical rows are counted as exact duplicates and stored once;
   rows sharing a time with different values are all rejected (which one is right is unknown);
10. ``out of order``: the fewest rows whose removal leaves the file in increasing time order
    (a file that is entirely newest-first is read in reverse instead, with a note).

Prices are rounded to the 6 decimal places the database keeps before any comparison, so two
rows that would be stored identically are duplicates, not conflicts.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdata import timeframes
from marketdata.importers.rejections import Reason, empty_rejections, rejections_frame
from marketdata.importers.timezones import SourceTimeZone, to_utc
from nusatrade.errors import DataError

PRICES = ("open", "high", "low", "close")
VOLUMES = ("volume", "real_volume")
BAR_COLUMNS = (*PRICES, *VOLUMES, "spread")
PRICE_DECIMALS = 6
PRICE_LIMIT = 1e12  # numeric(18, 6) holds 12 integer digits
VOLUME_LIMIT = 1e18  # bigint
SPREAD_LIMIT = 2**31 - 1  # integer


@dataclass(frozen=True)
class ValidationResult:
    """Clean bars (UTC index "time", float64 columns, plus each row's ``line``) and the rest."""

    bars: pd.DataFrame
    rejections: pd.DataFrame
    duplicates: int
    notes: tuple[str, ...] = ()


def validate_bars(frame: pd.DataFrame, timeframe: str,
                  tz: SourceTimeZone | None = None) -> ValidationResult:
    """Split parsed rows into bars to store and rejections (see the module docstring).

    ``frame`` has ``line``, ``time`` (naive datetime64: wall clock in ``tz``, or UTC when ``tz``
    is None) and the float64 ``BAR_COLUMNS``. Hot path: vectorised; only rejected rows are
    described one by one.
    """
    tf = timeframes.get(timeframe)
    frame = _rounded(frame.reset_index(drop=True))
    rejected = [_value_rejections(frame)]
    frame = frame[~frame["line"].isin(rejected[0]["line"])]
    frame, misaligned = _split_misaligned(frame, tf)
    frame, bad_local = _split_to_utc(frame, tz)
    frame, duplicates, conflicting = _split_duplicates(frame)
    frame, out_of_order, notes = _split_out_of_order(frame)
    rejected += [misaligned, bad_local, conflicting, out_of_order]
    rejections = pd.concat([r for r in rejected if len(r)] or [empty_rejections()],
                           ignore_index=True).sort_values("line", kind="stable",
                                                          ignore_index=True)
    return ValidationResult(_as_bars(frame), rejections, duplicates, tuple(notes))


def normalize_bars_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a bars-convention frame about to be stored; DataError on the first bad bar.

    Accepts what ``load_bars`` returns or a generator builds: a tz-aware DatetimeIndex of bar
    open times, float columns open/high/low/close/volume, optional real_volume and spread.
    Returns it sorted, in UTC, rounded like the database, with every ``BAR_COLUMNS`` column.
    """
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataError("bars need a tz-aware DatetimeIndex of open times", column="time")
    missing = [c for c in (*PRICES, "volume") if c not in frame.columns]
    if missing:
        raise DataError(f"bars frame lacks columns {', '.join(missing)}")
    if index.hasnans or not index.is_unique:
        raise DataError("bar times must be unique and not NaT", column="time")
    data = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64")
            for c in (*PRICES, "volume")}
    data["real_volume"] = _optional(frame, "real_volume", 0.0)
    data["spread"] = _optional(frame, "spread", np.nan)
    out = pd.DataFrame(data, index=index.tz_convert("UTC").rename("time"))
    if "line" in frame.columns:
        out["line"] = frame["line"].to_numpy()
    out = _rounded(out)
    codes = _first_failure(out)
    if (codes >= 0).any():
        row = int(np.flatnonzero(codes >= 0)[0])
        reason = _VALUE_CHECKS[codes[row]][0]
        detail = _describe(reason, out, np.array([row]))[0]
        raise DataError(f"bar {out.index[row]:%Y-%m-%d %H:%M} UTC: {reason} ({detail})")
    return out.sort_index()


# --- value checks ---------------------------------------------------------------------------

def _optional(frame: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), default)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64")


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Prices to the database's 6 decimals, volumes and spread to integers."""
    frame = frame.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        for name in PRICES:
            frame[name] = np.round(frame[name].to_numpy(dtype="float64"), PRICE_DECIMALS)
        for name in (*VOLUMES, "spread"):
            frame[name] = np.rint(frame[name].to_numpy(dtype="float64"))
    return frame


def _not_finite(v: dict[str, np.ndarray]) -> np.ndarray:
    bad = np.isinf(v["spread"])
    for name in (*PRICES, *VOLUMES):
        bad |= ~np.isfinite(v[name])
    return bad


def _out_of_range(v: dict[str, np.ndarray]) -> np.ndarray:
    bad = np.abs(v["spread"]) > SPREAD_LIMIT
    for name in PRICES:
        bad |= np.abs(v[name]) >= PRICE_LIMIT
    for name in VOLUMES:
        bad |= np.abs(v[name]) >= VOLUME_LIMIT
    return bad


def _non_positive(v: dict[str, np.ndarray]) -> np.ndarray:
    return (v["open"] <= 0) | (v["high"] <= 0) | (v["low"] <= 0) | (v["close"] <= 0)


def _high_below(v: dict[str, np.ndarray]) -> np.ndarray:
    return v["high"] < np.maximum(v["open"], v["close"])


def _low_above(v: dict[str, np.ndarray]) -> np.ndarray:
    return v["low"] > np.minimum(v["open"], v["close"])


def _negative(v: dict[str, np.ndarray]) -> np.ndarray:
    return (v["volume"] < 0) | (v["real_volume"] < 0) | (v["spread"] < 0)


_VALUE_CHECKS = (
    (Reason.NOT_FINITE, _not_finite),
    (Reason.OUT_OF_RANGE, _out_of_range),
    (Reason.NON_POSITIVE, _non_positive),
    (Reason.HIGH_BELOW, _high_below),
    (Reason.LOW_ABOVE, _low_above),
    (Reason.NEGATIVE, _negative),
)


def _first_failure(frame: pd.DataFrame) -> np.ndarray:
    """Index into _VALUE_CHECKS of the first check each row fails, -1 when it passes all."""
    values = {name: frame[name].to_numpy(dtype="float64") for name in BAR_COLUMNS}
    with np.errstate(invalid="ignore"):
        masks = np.vstack([check(values) for _, check in _VALUE_CHECKS])
    return np.where(masks.any(axis=0), masks.argmax(axis=0), -1)


def _value_rejections(frame: pd.DataFrame) -> pd.DataFrame:
    codes = _first_failure(frame)
    parts = []
    for code, (reason, _) in enumerate(_VALUE_CHECKS):
        rows = np.flatnonzero(codes == code)
        if len(rows):
            parts.append(rejections_frame(frame["line"].to_numpy()[rows], reason,
                                          _describe(reason, frame, rows)))
    return pd.concat(parts, ignore_index=True) if parts else empty_rejections()


def _describe(reason: Reason, frame: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """One line per rejected row saying exactly what is wrong (rejected rows only)."""
    v = {name: frame[name].to_numpy(dtype="float64")[rows] for name in BAR_COLUMNS}
    if reason is Reason.HIGH_BELOW:
        return [f"high {h:g} < max(open {o:g}, close {c:g})"
                for h, o, c in zip(v["high"], v["open"], v["close"], strict=True)]
    if reason is Reason.LOW_ABOVE:
        return [f"low {lo:g} > min(open {o:g}, close {c:g})"
                for lo, o, c in zip(v["low"], v["open"], v["close"], strict=True)]
    check = {Reason.NOT_FINITE: lambda name, x: not np.isfinite(x) and not (
                 name == "spread" and np.isnan(x)),
             Reason.OUT_OF_RANGE: lambda name, x: abs(x) >= _limit(name),
             Reason.NON_POSITIVE: lambda name, x: name in PRICES and x <= 0,
             Reason.NEGATIVE: lambda name, x: name not in PRICES and x < 0}[reason]
    out = []
    for i in range(len(rows)):
        bad = [f"{name} {v[name][i]:g}" for name in BAR_COLUMNS if check(name, v[name][i])]
        out.append(", ".join(bad))
    return out


def _limit(name: str) -> float:
    return PRICE_LIMIT if name in PRICES else (SPREAD_LIMIT + 1 if name == "spread"
                                               else VOLUME_LIMIT)


# --- time checks ----------------------------------------------------------------------------

def _split_misaligned(frame: pd.DataFrame, tf: timeframes.Timeframe
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    times = frame["time"].to_numpy()
    step = tf.delta.to_timedelta64().astype(f"m8[{np.datetime_data(times.dtype)[0]}]")
    bad = (times.view(np.int64) % step.view(np.int64)) != 0
    rejections = rejections_frame(
        frame["line"].to_numpy()[bad], Reason.MISALIGNED,
        [f"{_fmt(t)} is not a {tf.name} bar open time" for t in times[bad]])
    return frame[~bad], rejections


def _split_to_utc(frame: pd.DataFrame, tz: SourceTimeZone | None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    if tz is None or tz.is_utc:
        return frame, empty_rejections()
    wall = frame["time"].to_numpy()
    utc = to_utc(wall, tz)
    bad = np.isnat(utc)
    rejections = rejections_frame(
        frame["line"].to_numpy()[bad], Reason.LOCAL_TIME,
        [f"{_fmt(t)} does not exist or occurs twice in {tz.name}" for t in wall[bad]])
    return frame.assign(time=utc)[~bad], rejections


def _split_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """Exact duplicates: counted and kept once. Same time, other values: all rejected."""
    times = frame["time"].to_numpy().view(np.int64)
    order = np.lexsort((frame["line"].to_numpy(), times))
    sorted_times = times[order]
    first = np.r_[True, sorted_times[1:] != sorted_times[:-1]]
    if first.all():
        return frame, 0, empty_rejections()
    group = np.cumsum(first) - 1
    leader = order[np.flatnonzero(first)][group]
    same = np.ones(len(order), dtype=bool)
    for name in BAR_COLUMNS:
        col = frame[name].to_numpy()
        a, b = col[order], col[leader]
        same &= (a == b) | (np.isnan(a) & np.isnan(b))
    conflicted_group = np.bincount(group, weights=~same, minlength=group[-1] + 1) > 0
    conflicted = np.zeros(len(frame), dtype=bool)
    conflicted[order] = conflicted_group[group]
    duplicate = np.zeros(len(frame), dtype=bool)
    duplicate[order] = ~first & ~conflicted_group[group]
    rejections = _conflict_rejections(frame, conflicted, times)
    return frame[~conflicted & ~duplicate], int(duplicate.sum()), rejections


def _conflict_rejections(frame: pd.DataFrame, conflicted: np.ndarray,
                         times: np.ndarray) -> pd.DataFrame:
    if not conflicted.any():
        return empty_rejections()
    lines = frame["line"].to_numpy()[conflicted]
    bad_times = times[conflicted]
    by_time = pd.Series(lines).groupby(bad_times).agg(list).to_dict()
    details = [
        f"{_fmt(np.datetime64(int(t), 'us'))} UTC also on line(s) "
        + ", ".join(str(x) for x in by_time[t] if x != line)[:200]
        for line, t in zip(lines, bad_times, strict=True)
    ]
    return rejections_frame(lines, Reason.DUPLICATE_CONFLICT, details)


def _split_out_of_order(frame: pd.DataFrame
                        ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Keep the longest run of rows in increasing time order (file order); reject the rest."""
    frame = frame.sort_values("line", kind="stable")
    times = frame["time"].to_numpy().view(np.int64)
    steps = np.diff(times)
    if (steps > 0).all():
        return frame, empty_rejections(), []
    notes = []
    if (steps < 0).sum() > (steps > 0).sum():
        notes.append("the file lists bars newest first; it was read in reverse order")
        frame, times = frame.iloc[::-1], times[::-1]
    keep = _longest_increasing(times)
    if keep.all():
        return frame, empty_rejections(), notes
    kept_positions = np.flatnonzero(keep)
    previous = kept_positions[np.maximum(np.searchsorted(kept_positions,
                                                         np.flatnonzero(~keep)) - 1, 0)]
    lines = frame["line"].to_numpy()
    details = [f"{_fmt(np.datetime64(int(t), 'us'))} UTC breaks the time order of the rows "
               f"around it (line {lines[p]} is {_fmt(np.datetime64(int(times[p]), 'us'))} UTC)"
               for t, p in zip(times[~keep], previous, strict=True)]
    rejections = rejections_frame(lines[~keep], Reason.OUT_OF_ORDER, details)
    return frame[keep], rejections, notes


def _longest_increasing(values: np.ndarray) -> np.ndarray:
    """Mask of one longest strictly increasing subsequence (patience sorting, O(n log n)).

    Only runs for files that are out of order; per-row Python is acceptable there.
    """
    tails: list[int] = []
    tail_pos: list[int] = []
    previous = [-1] * len(values)
    for i, value in enumerate(values.tolist()):
        j = bisect.bisect_left(tails, value)
        if j == len(tails):
            tails.append(value)
            tail_pos.append(i)
        else:
            tails[j] = value
            tail_pos[j] = i
        previous[i] = tail_pos[j - 1] if j else -1
    keep = np.zeros(len(values), dtype=bool)
    position = tail_pos[-1] if tail_pos else -1
    while position >= 0:
        keep[position] = True
        position = previous[position]
    return keep


def _as_bars(frame: pd.DataFrame) -> pd.DataFrame:
    index = pd.DatetimeIndex(frame["time"].to_numpy(), name="time").tz_localize("UTC")
    bars = pd.DataFrame({name: frame[name].to_numpy(dtype="float64") for name in BAR_COLUMNS},
                        index=index)
    bars["line"] = frame["line"].to_numpy(dtype=np.int64)
    return bars.sort_index()


def _fmt(value: np.datetime64) -> str:
    return str(np.datetime_as_string(value, unit="s")).replace("T", " ")
