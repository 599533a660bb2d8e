"""Market-data reads: stored bars as the product's bars DataFrame.

``load_bars`` is what training, backtests and the live cycle read. On PostgreSQL the server
sends each column of the range as one binary blob through ``COPY ... TO STDOUT`` and numpy
(plus one numba loop for numerics) decodes it: no per-row Python objects or messages (hot
path). Elsewhere (SQLite) the ORM builds the query and the raw cursor runs it, prices cast to
float in SQL.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count, FloatField, Max, Min
from django.db.models.functions import Cast

from marketdata import pgcopy, timeframes
from marketdata.models import Bar, ImportRun, QuarantinedRow
from nusatrade.errors import DataError
from trading.models import Instrument

FRAME_COLUMNS = ("open", "high", "low", "close", "volume", "spread")
# Bars per COPY window: bounds the server's and our memory (~75 bytes a bar).
WINDOW_BARS = 1_000_000

Moment = str | datetime | pd.Timestamp | None


def load_bars(symbol: str, timeframe: str, start: Moment = None, end: Moment = None
              ) -> pd.DataFrame:
    """Stored bars of ``symbol``/``timeframe`` with ``start <= time <= end`` (both optional).

    Bars convention: UTC DatetimeIndex "time" (open times, ascending), float64 columns open,
    high, low, close, volume (tick volume) and spread (points, NaN when unknown).
    ``df.attrs["synthetic"]`` is True when any bar in it is synthetic demo data. Naive
    ``start``/``end`` are taken as UTC. DataError for an unknown symbol.
    """
    tf = timeframes.get(timeframe).name
    lower, upper = _utc(start), _utc(end)
    instrument_id = _instrument_id(symbol)
    if connection.vendor == "postgresql":
        columns = _copy_out(instrument_id, tf, lower, upper)
    else:
        columns = _values_list(instrument_id, tf, lower, upper)
    index = pd.DatetimeIndex(columns["time"], name="time").tz_localize("UTC")
    frame = pd.DataFrame({name: columns[name] for name in FRAME_COLUMNS}, index=index)
    frame.attrs["synthetic"] = bool(columns["synthetic"].any())
    return frame


def bars_range(symbol: str, timeframe: str) -> tuple[pd.Timestamp | None,
                                                     pd.Timestamp | None, int]:
    """(first open time, last open time, count) of the stored series; (None, None, 0) if empty.

    DataError for an unknown symbol.
    """
    tf = timeframes.get(timeframe).name
    stats = Bar.objects.filter(instrument_id=_instrument_id(symbol), timeframe=tf).aggregate(
        first=Min("time"), last=Max("time"), count=Count("time"))
    if not stats["count"]:
        return None, None, 0
    return (pd.Timestamp(stats["first"]).tz_convert("UTC"),
            pd.Timestamp(stats["last"]).tz_convert("UTC"), int(stats["count"]))


def import_run_list(limit: int = 50) -> list[ImportRun]:
    """The latest import runs, newest first, with their instrument."""
    return list(ImportRun.objects.select_related("instrument")[:limit])


def quarantined_row_list(run: ImportRun, limit: int | None = None) -> list[QuarantinedRow]:
    """The rows ``run`` quarantined, in file order."""
    rows = QuarantinedRow.objects.filter(import_run=run).order_by("line", "id")
    return list(rows[:limit] if limit is not None else rows)


def _instrument_id(symbol: str) -> int:
    found = Instrument.objects.filter(symbol__iexact=symbol.strip()).values_list("id", flat=True)
    for instrument_id in found:
        return instrument_id
    raise DataError(f"unknown symbol {symbol!r}")


def _utc(value: Moment) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


def _copy_out(instrument_id: int, timeframe: str, lower: pd.Timestamp | None,
              upper: pd.Timestamp | None) -> dict[str, np.ndarray]:
    """Hot path: per time window, one COPY of a single row of binary column blobs.

    Why not one COPY row per bar: the client pays ~0.5 us per COPY message (psycopg's per-row
    read loop), more than the server spends per bar; and casting four numerics per bar to
    float8 costs the server more than decoding them here. So the server concatenates each
    column's binary values (``string_agg(numeric_send(open), '')``...) and numpy/numba decode
    them (bench/bench_marketdata.py measures it). Windows bound the blobs' size.
    """
    parts = [_copy_window(instrument_id, timeframe, bounds)
             for bounds in _windows(instrument_id, timeframe, lower, upper)]
    columns = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]} \
        if parts else _no_columns()
    # Aggregates see rows in scan order, not time order: order them here (numpy, cheap).
    stamps = columns["time"].view(np.int64)
    if len(stamps) > 1 and not (stamps[1:] > stamps[:-1]).all():
        order = np.argsort(stamps, kind="stable")
        # "synthetic" holds one flag per window, not per bar: it is not reordered.
        columns = {name: (values if name == "synthetic" else values[order])
                   for name, values in columns.items()}
    return columns


def _windows(instrument_id: int, timeframe: str, lower: pd.Timestamp | None,
             upper: pd.Timestamp | None) -> list[tuple[pd.Timestamp, pd.Timestamp, bool]]:
    """(start, stop, stop inclusive?) windows of at most WINDOW_BARS bars covering the range."""
    if lower is None or upper is None:
        stored = Bar.objects.filter(instrument_id=instrument_id, timeframe=timeframe) \
            .aggregate(first=Min("time"), last=Max("time"))
        if stored["first"] is None:
            return []
        lower = lower if lower is not None else _utc(stored["first"])
        upper = upper if upper is not None else _utc(stored["last"])
    if upper < lower:
        return []
    span = timeframes.get(timeframe).delta * WINDOW_BARS
    starts = pd.date_range(lower, upper, freq=span) if upper - lower > span else [lower]
    return [(start, starts[i + 1] if i + 1 < len(starts) else upper, i + 1 == len(starts))
            for i, start in enumerate(starts)]


# The table is the model's (a constant); values are parameters.
_WINDOW_SQL = (
    "COPY (SELECT count(*), string_agg(timestamptz_send(time), ''), "  # noqa: S608
    "string_agg(numeric_send(open), ''), string_agg(numeric_send(high), ''), "
    "string_agg(numeric_send(low), ''), string_agg(numeric_send(close), ''), "
    "string_agg(int8send(tick_volume), ''), "
    f"string_agg(int4send(COALESCE(spread, {pgcopy.NULL_INT4})), ''), bool_or(synthetic) "
    f"FROM {Bar._meta.db_table} WHERE instrument_id = %s AND timeframe = %s "
    "AND time >= %s AND time {stop} %s) TO STDOUT (FORMAT BINARY)")


def _copy_window(instrument_id: int, timeframe: str,
                 bounds: tuple[pd.Timestamp, pd.Timestamp, bool]) -> dict[str, np.ndarray]:
    start, stop, inclusive = bounds
    query = _WINDOW_SQL.format(stop="<=" if inclusive else "<")
    params = [instrument_id, timeframe, start.to_pydatetime(), stop.to_pydatetime()]
    stream = bytearray()
    # The raw psycopg cursor: Django's debug cursor wrapper (DEBUG=True) takes no COPY params.
    with connection.cursor() as cursor, cursor.cursor.copy(query, params) as copy:
        for block in copy:
            stream += block
    count_raw, times, *prices, volume, spread, synthetic = pgcopy.single_row(bytes(stream))
    count = int.from_bytes(count_raw, "big", signed=True)
    if not count:
        return _no_columns()
    epoch_us = np.frombuffer(times, dtype=">i8").astype(np.int64) + pgcopy.PG_EPOCH_US
    spreads = np.frombuffer(spread, dtype=">i4").astype(np.float64)
    spreads[spreads == pgcopy.NULL_INT4] = np.nan
    columns = {name: pgcopy.decode_numerics(blob, count)
               for name, blob in zip(("open", "high", "low", "close"), prices, strict=True)}
    columns.update(volume=np.frombuffer(volume, dtype=">i8").astype(np.float64),
                   spread=spreads, time=epoch_us.view("datetime64[us]"),
                   synthetic=np.array([synthetic == b"\x01"]))
    return columns


def _no_columns() -> dict[str, np.ndarray]:
    columns = {name: np.empty(0) for name in FRAME_COLUMNS}
    columns.update(time=np.empty(0, dtype="datetime64[us]"), synthetic=np.zeros(0, dtype=bool))
    return columns


def _values_list(instrument_id: int, timeframe: str, lower: pd.Timestamp | None,
                 upper: pd.Timestamp | None) -> dict[str, np.ndarray]:
    columns = bar_columns(instrument_id, timeframe, lower, upper,
                          ("open", "high", "low", "close", "tick_volume", "spread", "synthetic"))
    columns["volume"] = columns.pop("tick_volume")
    columns["synthetic"] = columns["synthetic"] == 1
    return columns


def bar_columns(instrument_id: int, timeframe: str, lower: pd.Timestamp | None,
                upper: pd.Timestamp | None, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Stored bars as columns (float64, NaN for NULL; "time" datetime64[us] UTC), time order.

    The portable path (SQLite): the ORM builds the query, the raw cursor runs it, so no
    per-row converters run (Django's would parse each time string on its own).
    """
    bars = Bar.objects.filter(instrument_id=instrument_id, timeframe=timeframe)
    if lower is not None:
        bars = bars.filter(time__gte=lower.to_pydatetime())
    if upper is not None:
        bars = bars.filter(time__lte=upper.to_pydatetime())
    floats = {f"f_{name}": Cast(name, FloatField()) for name in fields}
    query = bars.order_by("time").annotate(**floats).values_list("time", *floats)
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    values = np.array([row[1:] for row in rows], dtype="float64").reshape(len(rows), len(fields))
    # Stored times are UTC (naive text on SQLite, aware datetimes elsewhere).
    times = pd.DatetimeIndex(pd.to_datetime([row[0] for row in rows], utc=True,
                                            format="ISO8601"))
    columns = {name: values[:, i] for i, name in enumerate(fields)}
    columns["time"] = times.tz_localize(None).as_unit("us").to_numpy()
    return columns
