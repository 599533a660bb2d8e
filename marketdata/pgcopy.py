"""PostgreSQL binary COPY and binary values, built and read with numpy (pure: no Django).

Writing (hot path of ``bars_upsert``): a binary COPY stream is a header, then per row an int16
field count and, per field, an int32 byte length and the value (big-endian), then an int16 -1
trailer. When every field is fixed-width and never NULL, all rows share one layout, so the rows
are one numpy structured array. Prices go in as binary ``numeric`` (no float8 -> numeric cast
on the server). NULLs would break the fixed layout: callers leave a NULL-able column out, or
map NULL to a sentinel (``NULL_INT4``) and translate it in SQL.

Reading (hot path of ``load_bars``): the server concatenates each column's binary values into
one blob (``string_agg(numeric_send(x), '')``); fixed-width blobs are numpy views, numerics
(variable length) are walked by a small compiled loop.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

import numpy as np
from numba import njit

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
# PostgreSQL timestamps count microseconds from 2000-01-01 00:00 UTC.
PG_EPOCH_US = 946_684_800_000_000
NULL_INT4 = np.iinfo(np.int32).min

# PostgreSQL type -> big-endian numpy type of its binary representation. "numeric6" is a
# numeric with 6 decimals (see numeric_fields); "text" is fixed-width UTF-8 (all values of a
# column the same length, e.g. a timeframe name).
PG_TYPES = {"int8": ">i8", "int4": ">i4", "float8": ">f8", "bool": "?",
            "timestamptz": ">i8", "numeric6": (">i2", (9,))}


def _row_dtype(fields: Sequence[tuple[str, str]], columns: Mapping[str, np.ndarray]
               ) -> np.dtype:
    layout: list[tuple] = [("_count", ">i2")]
    for name, pg_type in fields:
        kind = f"S{columns[name].dtype.itemsize}" if pg_type == "text" else PG_TYPES[pg_type]
        layout += [(f"_len_{name}", ">i4"), (name, kind)]
    return np.dtype(layout)


def encode_rows(fields: Sequence[tuple[str, str]],
                columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """The rows of a binary COPY stream as one structured array (write HEADER before them and
    TRAILER after). ``timestamptz`` columns are given as datetime64, ``text`` as bytes (``S``)
    arrays whose values all have the same length."""
    columns = {name: _text_column(columns[name]) if pg_type == "text" else columns[name]
               for name, pg_type in fields}
    dtype = _row_dtype(fields, columns)
    n = len(next(iter(columns.values()))) if columns else 0
    rows = np.empty(n, dtype=dtype)
    rows["_count"] = len(fields)
    for name, pg_type in fields:
        rows[f"_len_{name}"] = dtype[name].itemsize
        values = columns[name]
        if pg_type == "timestamptz":
            values = values.astype("datetime64[us]").view(np.int64) - PG_EPOCH_US
        elif pg_type == "numeric6":
            values = numeric_fields(values)
        rows[name] = values
    return rows


def encode(fields: Sequence[tuple[str, str]], columns: Mapping[str, np.ndarray]) -> bytes:
    """A complete binary COPY stream of ``columns`` (see ``encode_rows``)."""
    return HEADER + encode_rows(fields, columns).tobytes() + TRAILER


def _text_column(values: np.ndarray) -> np.ndarray:
    encoded = np.char.encode(np.asarray(values, dtype=str), "utf-8")
    lengths = np.char.str_len(encoded)
    if len(encoded) and (lengths != lengths[0]).any():
        raise ValueError("a text column must hold values of one length to keep rows fixed-width")
    return encoded


def single_row(stream: bytes) -> list[bytes | None]:
    """The fields (raw bytes, None for NULL) of a binary COPY stream holding exactly one row."""
    if not stream.startswith(SIGNATURE):
        raise ValueError("not a PostgreSQL binary COPY stream")
    at = len(SIGNATURE) + 8 + struct.unpack_from(">i", stream, len(SIGNATURE) + 4)[0]
    (count,) = struct.unpack_from(">h", stream, at)
    at += 2
    fields: list[bytes | None] = []
    for _ in range(count):
        (width,) = struct.unpack_from(">i", stream, at)
        at += 4
        fields.append(None if width < 0 else stream[at:at + width])
        at += max(width, 0)
    if stream[at:] != TRAILER:
        raise ValueError("binary COPY stream holds more than one row")
    return fields


def decode_numerics(blob: bytes, count: int) -> np.ndarray:
    """``count`` binary numerics laid end to end (``string_agg(numeric_send(x), '')``) as
    float64, exactly what PostgreSQL's ``::float8`` gives for values below 9e9 with up to 6
    decimals. Each numeric says its own length, so a compiled loop walks them (hot path of
    ``load_bars``). ValueError if the blob does not hold exactly ``count`` of them."""
    values, used, error = _numerics(np.frombuffer(blob, dtype=np.uint8), count)
    if error or used != len(blob):
        raise ValueError("numeric blob is not in the expected layout")
    return values


@njit(cache=True)
def _int16(buffer: np.ndarray, at: int) -> int:
    value = (np.int64(buffer[at]) << 8) | np.int64(buffer[at + 1])
    return value - 65536 if value >= 32768 else value


@njit(cache=True)
def _numerics(buffer: np.ndarray, count: int) -> tuple[np.ndarray, int, int]:
    values = np.empty(count, dtype=np.float64)
    powers = np.array([10.0**k for k in range(15)])
    at = 0
    for i in range(count):
        if at + 8 > len(buffer):
            return values, at, 1
        ndigits, weight = _int16(buffer, at), _int16(buffer, at + 2)
        sign = _int16(buffer, at + 4) & 0xFFFF
        if at + 8 + 2 * ndigits > len(buffer):
            return values, at, 1
        micros = np.int64(0)
        for j in range(ndigits):
            digit = np.int64(_int16(buffer, at + 8 + 2 * j))
            exponent = 4 * (weight - j) + 6
            if exponent < -3 or exponent > 14:
                return values, at, 2
            if exponent >= 0:
                micros += digit * np.int64(powers[exponent])
            else:
                micros += digit // np.int64(powers[-exponent])
        # One correctly rounded division: the nearest double, as float8in would give.
        value = micros / 1e6
        values[i] = np.nan if sign == 0xC000 else (-value if sign == 0x4000 else value)
        at += 8 + 2 * ndigits
    return values, at, 0


def numeric_fields(values: np.ndarray, scale: int = 6) -> np.ndarray:
    """Binary ``numeric`` values with ``scale`` decimals, fixed width: (n, 9) big-endian int16.

    PostgreSQL's numeric is base 10000: ndigits, weight, sign, dscale, then the digits. Every
    value is written with the same 5 digits (3 before the point, 2 after: up to 10^12 with 6
    decimals); the server strips the leading/trailing zero digits itself.
    """
    if scale != 6:
        raise ValueError("only 6 decimals are supported")
    scaled = np.rint(np.asarray(values, dtype="float64") * 1e6)
    if not np.isfinite(scaled).all() or (np.abs(scaled) >= 1e18).any():
        raise ValueError("numeric value not finite or beyond 10^12")
    n = np.abs(scaled).astype(np.int64)
    whole, frac = np.divmod(n, 1_000_000)
    out = np.empty((len(n), 9), dtype=">i2")
    out[:, 0] = 5  # ndigits
    out[:, 1] = 2  # weight: the first digit counts 10000^2
    out[:, 2] = np.where(scaled < 0, 0x4000, 0x0000)
    out[:, 3] = scale
    out[:, 4] = whole // 100_000_000
    out[:, 5] = (whole // 10_000) % 10_000
    out[:, 6] = whole % 10_000
    out[:, 7] = frac // 100
    out[:, 8] = (frac % 100) * 100
    return out
