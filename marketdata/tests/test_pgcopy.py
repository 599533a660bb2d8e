"""Binary COPY codec: fixed-width rows built and read by numpy (no database needed)."""

from __future__ import annotations

import struct
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketdata import pgcopy


def numeric_bytes(ndigits: int, weight: int, sign: int, dscale: int, *digits: int) -> bytes:
    """What PostgreSQL's numeric_send writes."""
    return struct.pack(f">hhHh{len(digits)}h", ndigits, weight, sign, dscale, *digits)


def test_stream_layout_matches_the_postgresql_binary_format():
    stream = pgcopy.encode((("n", "int4"),), {"n": np.array([7], dtype=np.int32)})
    assert stream == (b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
                      + struct.pack(">hii", 1, 4, 7) + struct.pack(">h", -1))


def test_timestamps_count_from_2000_in_microseconds():
    stream = pgcopy.encode((("t", "timestamptz"),),
                           {"t": np.array(["2000-01-01T00:00:01"], dtype="datetime64[us]")})
    assert struct.unpack_from(">q", stream, 19 + 2 + 4)[0] == 1_000_000


def decimal_of(words: np.ndarray) -> Decimal:
    ndigits, weight, sign, dscale, *digits = (int(w) for w in words)
    value = sum(Decimal(d) * Decimal(10000) ** (weight - i) for i, d in enumerate(digits))
    assert ndigits == len(digits)
    return (-value if sign == 0x4000 else value).quantize(Decimal(1).scaleb(-dscale))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1))
def test_numeric_encoding_is_exact_for_six_decimals(micros):
    # Up to 15 significant digits, what a float64 holds exactly enough to round-trip.
    value = micros / 1e6
    words = pgcopy.numeric_fields(np.array([value]))[0]
    assert decimal_of(words) == Decimal(f"{value:.6f}")


def test_numeric_refuses_values_it_cannot_hold():
    with pytest.raises(ValueError, match="not finite or beyond"):
        pgcopy.numeric_fields(np.array([1e13]))
    with pytest.raises(ValueError, match="not finite or beyond"):
        pgcopy.numeric_fields(np.array([np.nan]))


def test_text_columns_must_keep_rows_fixed_width():
    with pytest.raises(ValueError, match="one length"):
        pgcopy.encode((("tf", "text"),), {"tf": np.array(["M1", "M15"])})
    stream = pgcopy.encode((("tf", "text"),), {"tf": np.array(["H1", "H4"])})
    assert stream.count(b"H1") == 1 and stream.count(b"H4") == 1


def test_a_one_row_stream_gives_its_fields_and_nulls():
    stream = pgcopy.encode((("n", "int4"), ("x", "float8")),
                           {"n": np.array([7], dtype=np.int32), "x": np.array([1.5])})
    assert pgcopy.single_row(stream) == [struct.pack(">i", 7), struct.pack(">d", 1.5)]
    with_null = pgcopy.HEADER + struct.pack(">hi", 1, -1) + pgcopy.TRAILER
    assert pgcopy.single_row(with_null) == [None]


@pytest.mark.parametrize("stream, message", [
    (b"NOTCOPY", "not a PostgreSQL binary COPY stream"),
    (pgcopy.encode((("n", "int4"),), {"n": np.array([1, 2], dtype=np.int32)}),
     "more than one row"),
])
def test_single_row_refuses_other_streams(stream, message):
    with pytest.raises(ValueError, match=message):
        pgcopy.single_row(stream)


def test_numerics_as_postgresql_sends_them_are_decoded():
    blob = b"".join([
        numeric_bytes(2, 0, 0x0000, 6, 2075, 2500),        # 2075.25
        numeric_bytes(1, -2, 0x0000, 6, 100),              # 0.000001
        numeric_bytes(3, 0, 0x4000, 6, 1, 854, 3000),      # -1.08543
        numeric_bytes(0, 0, 0x0000, 6),                    # 0
        numeric_bytes(0, 0, 0xC000, 0),                    # NaN
        numeric_bytes(1, 1, 0x0000, 6, 12),                # 120000
    ])
    values = pgcopy.decode_numerics(blob, 6)
    assert values[:4].tolist() == [2075.25, 0.000001, -1.08543, 0.0]
    assert np.isnan(values[4]) and values[5] == 120000.0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1), max_size=20))
def test_numerics_we_encode_decode_to_the_nearest_double(micros):
    values = np.array(micros, dtype=np.int64) / 1e6
    blob = pgcopy.numeric_fields(values).tobytes()
    assert pgcopy.decode_numerics(blob, len(values)).tolist() == values.tolist()


def test_a_numeric_blob_of_another_length_is_refused():
    blob = numeric_bytes(1, 0, 0, 6, 5)
    with pytest.raises(ValueError, match="expected layout"):
        pgcopy.decode_numerics(blob, 2)
    with pytest.raises(ValueError, match="expected layout"):
        pgcopy.decode_numerics(blob + b"\x00", 1)
