"""Any delimited file with a header naming its columns (pure).

The header names time, open, high, low, close and (optionally) volume, in any case or order,
separated by ``,``, ``;``, tab or ``|``; other columns are ignored::

    Time,Open,High,Low,Close,Volume
    2017-04-19 09:00:00,1284.49,1285.10,1283.90,1284.77,1234

Aliases are accepted (``datetime``/``timestamp``/``date``, ``tick_volume``/``vol``...), and a
separate ``date`` + ``time`` pair. The time format is detected from the values: ISO 8601 (with
or without an offset), ``YYYY.MM.DD``, ``DD.MM.YYYY``, ``YYYY/MM/DD``, ``MM/DD/YYYY``,
``DD/MM/YYYY``, ``YYYYMMDD``, each with optional ``HH:MM[:SS]``, or Unix epoch seconds or
milliseconds. Times with a UTC offset are converted with it (``--tz`` is then ignored); times
without one are in ``--tz`` (default UTC). A semicolon file with decimal commas is read too.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from marketdata.importers.base import (
    EARLIEST,
    LATEST,
    NAT,
    ParsedFile,
    Progress,
    finish_frame,
    merge_rejections,
    read_delimited,
    reject_unparsed_times,
    time_of_day_from_categories,
    times_from_categories,
)
from marketdata.importers.source import SourceText
from nusatrade.errors import DataError

NAME = "generic"
DEFAULT_TZ = "UTC"
TZ_CONTEXT = "generic CSV timestamps without an offset are read in --tz"
SEPARATORS = (",", ";", "\t", "|")
ALIASES = {
    "time": ("time", "datetime", "date_time", "timestamp", "gmt_time", "local_time",
             "time_utc", "utc_time", "open_time", "bar_time"),
    "open": ("open", "o", "open_price"),
    "high": ("high", "h", "high_price"),
    "low": ("low", "l", "low_price"),
    "close": ("close", "c", "close_price"),
    "tick_volume": ("tick_volume", "tickvol", "tick_vol", "ticks", "volume_tick"),
    "volume": ("volume", "vol", "v"),
    "real_volume": ("real_volume", "realvolume", "real_vol"),
    "spread": ("spread",),
}
_ALIAS = {alias: target for target, names in ALIASES.items() for alias in names}
REQUIRED = ("open", "high", "low", "close")
DATE_TIME_FORMATS = (
    "ISO8601",
    "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y.%m.%d",
    "%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%Y%m%d %H%M%S", "%Y%m%d %H:%M:%S", "%Y%m%d %H:%M", "%Y%m%d",
)
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_EPOCH = re.compile(r"^\d{9,13}$")
_SAMPLE = 2000


def sniff(first_line: str) -> bool:
    try:
        _layout(first_line)
    except ValueError:
        return False
    return True


def parse(source: SourceText, progress: Progress | None = None) -> ParsedFile:
    number, header = source.first_nonblank_line()
    try:
        sep, names = _layout(header)
    except ValueError as exc:
        raise DataError(str(exc), source=source.name, line=number) from None
    decimal = _decimal_mark(source, number, sep)
    text_columns = [n for n in names if n in ("time", "date", "time_of_day")
                    or n.startswith("extra")]
    table = read_delimited(source, first_line=number + 1, sep=sep, names=names,
                           text_columns=text_columns, decimal=decimal, progress=progress)
    frame = table.frame
    time_columns = ["time"] if "time" in names else ["date", "time_of_day"]
    times, utc, fmt = _parse_times(frame, time_columns)
    frame, bad_times = reject_unparsed_times(frame, times, time_columns)
    if "tick_volume" in names:
        frame = frame.rename(columns={"volume": "real_volume", "tick_volume": "volume"})
    notes = [f"time format detected: {fmt}"]
    if "volume" not in frame.columns:
        notes.append("the file has no volume column: tick volume stored as 0")
        frame = frame.assign(volume=0.0)
    if decimal != ".":
        notes.append("decimal commas read as decimal points")
    return ParsedFile(NAME, source, finish_frame(frame),
                      merge_rejections(table.rejections, bad_times), DEFAULT_TZ,
                      "generic CSV timestamps carry their own UTC offset" if utc else TZ_CONTEXT,
                      time_is_utc=utc, blank_lines=table.blank_lines, notes=notes)


def _layout(header: str) -> tuple[str, list[str]]:
    """(separator, our column names) for a header line; ValueError saying what is missing."""
    best: tuple[int, str, list[str]] | None = None
    for sep in SEPARATORS:
        names = _names(header.split(sep))
        known = sum(1 for n in names if not n.startswith("extra"))
        if best is None or known > best[0]:
            best = (known, sep, names)
    _, sep, names = best
    missing = [r for r in REQUIRED if r not in names]
    if "time" not in names and "date" not in names:
        missing.insert(0, "time")
    if missing:
        raise ValueError(f"the header {header[:80]!r} names no {', '.join(missing)} column")
    duplicated = {n for n in names if names.count(n) > 1 and not n.startswith("extra")}
    if duplicated:
        raise ValueError(f"the header names {', '.join(sorted(duplicated))} twice")
    return sep, names


def _names(cells: list[str]) -> list[str]:
    normalised = [re.sub(r"[^a-z0-9]+", "_", c.strip().strip('"').strip("<>").lower()).strip("_")
                  for c in cells]
    has_date, has_time = "date" in normalised, "time" in normalised
    names = []
    for i, cell in enumerate(normalised):
        if cell == "date" and has_time:
            names.append("date")
        elif cell == "date":
            names.append("time")
        elif cell == "time" and has_date:
            names.append("time_of_day")
        else:
            names.append(_ALIAS.get(cell, f"extra{i}"))
    return names


def _decimal_mark(source: SourceText, header_line: int, sep: str) -> str:
    """Decimal commas only make sense with another separator: look at the first data line."""
    if sep == ",":
        return "."
    sample = source.lines(range(header_line + 1, min(header_line + 6,
                                                      source.line_count + 1)))
    cells = [c for line in sample for c in line.split(sep)[1:]]
    comma = sum(bool(re.fullmatch(r"-?\d+,\d+", c.strip())) for c in cells)
    point = sum(bool(re.fullmatch(r"-?\d+\.\d+", c.strip())) for c in cells)
    return "," if comma > point else "."


def _parse_times(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, bool, str]:
    """(times, whether they are UTC from their own offsets, format name)."""
    if columns == ["date", "time_of_day"]:
        dates = times_from_categories(frame["date"], _date_only_formats())
        return dates + time_of_day_from_categories(frame["time_of_day"]), False, "date + time"
    column = frame["time"]
    categories = pd.Index(column.cat.categories).astype(str).str.strip().str.strip('"')
    sample = categories[np.linspace(0, len(categories) - 1,
                                    min(_SAMPLE, len(categories))).astype(int)] \
        if len(categories) else categories
    if len(sample) and all(_EPOCH.match(v) for v in sample):
        return _epoch_times(column), False, "Unix epoch"
    utc = any(_OFFSET.search(v) for v in sample)
    fmt = _best_format(sample, column, utc)
    return times_from_categories(column, (fmt,), utc=utc), utc, fmt


def _date_only_formats() -> tuple[str, ...]:
    return (*(f for f in DATE_TIME_FORMATS if "%H" not in f and f != "ISO8601"), "%Y-%m-%d")


def _best_format(sample: pd.Index, column: pd.Series, utc: bool) -> str:
    """The format parsing most sample values; ties go to one that keeps rows in time order."""
    head = pd.Index(column.iloc[:500].dropna().astype(str).str.strip().str.strip('"'))
    best_key, best = (-1, False), DATE_TIME_FORMATS[0]
    for fmt in DATE_TIME_FORMATS:
        parsed = pd.to_datetime(sample, format=fmt, errors="coerce", utc=utc)
        score = int(parsed.notna().sum())
        if score == 0 or score < best_key[0]:
            continue
        in_order = pd.to_datetime(head, format=fmt, errors="coerce", utc=utc).dropna() \
            .is_monotonic_increasing
        if (score, in_order) > best_key:
            best_key, best = (score, in_order), fmt
    return best


def _epoch_times(column: pd.Series) -> np.ndarray:
    """Unix seconds (up to 10 digits) or milliseconds (13 digits) -> datetime64[us]."""
    categories = pd.Index(column.cat.categories).astype(str).str.strip()
    numbers = pd.to_numeric(categories, errors="coerce").to_numpy(dtype="float64")
    scale = np.where(categories.str.len() > 11, 1_000, 1_000_000)
    micros = np.where(np.isfinite(numbers), numbers * scale, np.nan)
    valid = (micros >= EARLIEST) & (micros < LATEST)
    parsed = np.where(valid, np.nan_to_num(micros), NAT).astype(np.int64)
    codes = column.cat.codes.to_numpy()
    out = np.where(codes >= 0, parsed[np.maximum(codes, 0)], NAT)
    return out.astype(np.int64).view("datetime64[us]")
