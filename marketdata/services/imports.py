"""``bars_import``: a user's file -> validated bars in the database + an ``ImportRun`` report.

Parse, validate, store and quarantine happen in one transaction: either the whole file's
outcome is stored (accepted bars, quarantined rows, the report) or none of it. A file that
cannot be read at all (``DataError``) stores no bars and no quarantined rows; a *failed*
``ImportRun`` (status, error text) is then recorded on its own so the attempt shows in admin.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import pandas as pd
from django.conf import settings
from django.db import transaction

from marketdata import calendar, timeframes
from marketdata.importers import FORMAT_CHOICES, FORMATS, ParsedFile, parse_source, read_source
from marketdata.importers.rejections import count_by_reason
from marketdata.importers.timezones import SourceTimeZone, parse_tz
from marketdata.models import ImportRun
from marketdata.services.quarantine import conflict_rejections, quarantine_rows
from marketdata.services.upsert import (
    UpsertResult,
    bars_upsert,
    instrument_get,
    validate_no_real_bars,
)
from marketdata.validation import ValidationResult, validate_bars
from nusatrade.errors import ConfigurationError, NusaTradeError
from trading.models import Instrument

GAP_LIMIT = 100  # gaps kept in ImportRun.gaps (longest first); gap_count has them all


class ProgressBar(Protocol):
    def update(self, n: int) -> object: ...
    def close(self) -> object: ...


ProgressFactory = Callable[[str, int], ProgressBar]


def bars_import(path: str | Path, symbol: str, timeframe: str, fmt: str = "auto",
                tz: str | None = None, *, progress: ProgressFactory | None = None,
                synthetic: bool = False) -> ImportRun:
    """Import the bar file at ``path`` as ``symbol``/``timeframe`` bars; returns the run.

    ``tz`` is the time zone the file's timestamps are written in (see
    ``importers.timezones``); None means the format's own assumption (MT5: UTC, HistData:
    EST without DST, generic: UTC or the offsets in the file). ``synthetic`` stores the bars
    marked synthetic (generated files such as ``make demo``'s controls), refused when the series
    already holds real bars. Raises ValueError/DataError for
    bad arguments (nothing recorded) and DataError for an unreadable file (a failed run is
    recorded, no bars or quarantined rows).
    """
    started = time.monotonic()
    instrument = instrument_get(symbol)
    tf = timeframes.get(timeframe).name
    if fmt not in FORMAT_CHOICES:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMAT_CHOICES)}")
    requested_tz = parse_tz(tz) if tz else None
    if synthetic:
        validate_no_real_bars(instrument, tf)
    # On a DataError the database stays exactly as it was (the rule). The caller
    # reports the failure once (import_bars: its one-line error); logging it here as well
    # printed every error twice on the operator's terminal.
    with transaction.atomic():
        return _import(Path(path), instrument, tf, fmt, requested_tz, progress, started,
                       synthetic)


def _import(path: Path, instrument: Instrument, tf: str, fmt: str,
            requested_tz: SourceTimeZone | None, progress: ProgressFactory | None,
            started: float, synthetic: bool = False) -> ImportRun:
    source = read_source(path)
    with _stage(progress, "reading", source.line_count) as update:
        parsed = parse_source(source, fmt, progress=update)
    source_tz, assumption = _tz_assumption(parsed, requested_tz)
    result = validate_bars(parsed.frame, tf, source_tz)
    run = ImportRun.objects.create(
        path=str(path)[:1024], name=path.name[:255], instrument=instrument, timeframe=tf,
        format=parsed.format, tz=source_tz.name if source_tz else "UTC",
        tz_assumption=assumption)
    with _stage(progress, "storing", len(result.bars)) as update:
        upsert = bars_upsert(instrument.symbol, tf, result.bars, synthetic=synthetic,
                             progress=update)
    rejections = pd.concat([parsed.rejections, result.rejections,
                            conflict_rejections(upsert.conflicts)], ignore_index=True)
    rejections = rejections.sort_values("line", kind="stable", ignore_index=True)
    rejections["raw"] = parsed.source.lines(rejections["line"].to_numpy())
    quarantine_rows(run, rejections)
    _fill_report(run, parsed, result, upsert, rejections, instrument.symbol, tf)
    if synthetic:
        run.notes.append("stored marked SYNTHETIC (--synthetic): generated data, not a market")
    run.duration = timedelta(seconds=time.monotonic() - started)
    run.save()
    return run


def _tz_assumption(parsed: ParsedFile, requested: SourceTimeZone | None
                   ) -> tuple[SourceTimeZone | None, str]:
    """The zone the file's timestamps are read in (None: already UTC) and the report text."""
    if parsed.time_is_utc:
        ignored = f"; --tz {requested.name} ignored" if requested else ""
        return None, f"{parsed.tz_note}{ignored}"
    if requested is not None:
        return requested, (f"{parsed.tz_note}; read as {requested.description} and converted "
                           "to UTC")
    default = parse_tz(FORMATS[parsed.format].DEFAULT_TZ)
    if parsed.format == "histdata":
        return default, f"{parsed.tz_note}; converted to UTC"
    if parsed.format == "mt5":
        return default, (f"{parsed.tz_note}; no --tz given, so UTC was ASSUMED (pass --tz, "
                         "e.g. NY+7 or UTC+2, if the broker's server clock is not UTC)")
    return default, f"{parsed.tz_note}; no --tz given, so they are taken as UTC"


def _fill_report(run: ImportRun, parsed: ParsedFile, result: ValidationResult,
                 upsert: UpsertResult, rejections: pd.DataFrame, symbol: str, tf: str) -> None:
    accepted = result.bars.drop(index=upsert.conflicts.index)
    run.rows_read = parsed.rows_read
    run.accepted = len(accepted)
    run.inserted = upsert.inserted
    run.unchanged = upsert.unchanged
    run.duplicates = result.duplicates
    run.rejected = len(rejections)
    run.rejected_by_reason = count_by_reason(rejections)
    run.notes = [*parsed.notes, *result.notes]
    if parsed.blank_lines:
        run.notes.append(f"{parsed.blank_lines} blank line(s) skipped (not counted as rows)")
    if run.rows_read != run.accepted + run.rejected + run.duplicates:
        raise NusaTradeError(f"import accounting broken for {run.name}: read {run.rows_read} != "
                             f"{run.accepted} + {run.rejected} + {run.duplicates}")
    if len(accepted):
        run.first_bar, run.last_bar = accepted.index[0], accepted.index[-1]
        run.min_price = Decimal(f"{accepted['low'].min():.6f}")
        run.max_price = Decimal(f"{accepted['high'].max():.6f}")
    _fill_gaps(run, parsed, result.bars, symbol, tf)


def _fill_gaps(run: ImportRun, parsed: ParsedFile, bars: pd.DataFrame, symbol: str,
               tf: str) -> None:
    """Missing bars inside trading hours, on the forex week of ``marketdata.calendar``."""
    if len(bars) < 2:
        return
    times = bars.index
    step_us = timeframes.get(tf).minutes * 60_000_000
    if (times.as_unit("us").asi8 % step_us).any():
        # D1/H4 bars of a broker off UTC open off the UTC grid (22:00 UTC): measure gaps on
        # the file's own clock, where they are aligned.
        wall = parsed.frame.set_index("line")["time"].reindex(bars["line"].to_numpy())
        times = pd.DatetimeIndex(wall.to_numpy()).tz_localize("UTC").sort_values()
        run.notes.append("gaps measured on the file's own clock (bars are not on the UTC grid)")
    gaps = calendar.find_gaps(times, tf, _holidays(times[0].year, times[-1].year),
                              session=calendar.session_for(symbol))
    run.gap_count = len(gaps)
    run.missing_bars = sum(g.missing_bars for g in gaps)
    longest = sorted(gaps, key=lambda g: (-g.missing_bars, g.start))[:GAP_LIMIT]
    run.gaps = [{"start": g.start.isoformat(), "end": g.end.isoformat(),
                 "missing_bars": g.missing_bars,
                 "hours": round(g.duration / pd.Timedelta(hours=1), 2)} for g in longest]


def _holidays(first_year: int, last_year: int) -> list[date]:
    """Christmas and New Year of every year, plus the ``MARKET_HOLIDAYS`` setting."""
    configured = []
    for value in getattr(settings, "MARKET_HOLIDAYS", []) or []:
        try:
            configured.append(date.fromisoformat(str(value)))
        except ValueError:
            raise ConfigurationError(
                f"MARKET_HOLIDAYS: {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return [*calendar.default_holidays(first_year, last_year), *configured]


@contextmanager
def _stage(progress: ProgressFactory | None, description: str,
           total: int) -> Iterator[Callable[[int], object] | None]:
    if progress is None:
        yield None
        return
    bar = progress(description, total)
    try:
        yield bar.update
    finally:
        bar.close()
