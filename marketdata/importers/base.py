"""What every importer produces, and the vectorised delimited-text reader they share (pure).

An importer turns a ``SourceText`` into a ``ParsedFile``: one row per data line that could be
parsed (``line``, wall-clock ``time``, prices and volumes as float64) plus a rejections frame
(``line``, ``reason``, ``detail``) for lines that could not. Nothing is dropped silently:
every non-blank data line is in exactly one of the two.

Hot path: ``read_delimited`` hands whole chunks of bytes to pandas' C parser with the time
columns as categoricals (a few thousand distinct dates/times instead of one Python string per
row) and prices as float64. Only a chunk the C parser refuses (a stray field, a word where a
number belongs) takes the slower path, which still parses vectorised and pins every bad row
to its line.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.errors import ParserError, ParserWarning

from marketdata.importers.rejections import Reason, empty_rejections, rejections_frame
from marketdata.importers.source import SourceText

VALUE_COLUMNS = ("open", "high", "low", "close", "volume", "real_volume", "spread")
CHUNK_BYTES = 8 << 20
NAT = np.iinfo(np.int64).min  # NaT as int64
# Times are microseconds (pandas 3's default resolution). Outside this window a "time" is a typo.
EARLIEST = np.datetime64("1970-01-01", "us").astype(np.int64)
LATEST = np.datetime64("2100-01-01", "us").astype(np.int64)
NA_LITERALS = frozenset(("", "nan", "NaN", "NAN", "-nan", "-NaN", "NA", "N/A", "n/a", "#N/A",
                         "NULL", "null", "None", "<NA>", "#NA", "-1.#IND", "1.#QNAN"))

Progress = Callable[[int], None]


@dataclass
class ParsedFile:
    """The result of parsing one file, before validation."""

    format: str
    source: SourceText
    frame: pd.DataFrame
    rejections: pd.DataFrame
    default_tz: str
    tz_note: str
    time_is_utc: bool = False
    blank_lines: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.rejections)


@dataclass(frozen=True)
class Table:
    """Columns of a delimited file's data lines, time columns still as categoricals."""

    frame: pd.DataFrame
    rejections: pd.DataFrame
    blank_lines: int


def read_delimited(source: SourceText, *, first_line: int, sep: str, names: Sequence[str],
                   text_columns: Sequence[str], decimal: str = ".",
                   progress: Progress | None = None) -> Table:
    """Parse lines ``first_line``.. of ``source`` split on ``sep`` into ``names`` (hot path).

    ``text_columns`` come back as categoricals, every other column as float64; the frame has a
    ``line`` column. Lines with the wrong number of fields, or a non-number in a number column,
    become rejections; blank lines are counted, not returned.
    """
    frames, rejected, blanks = [], [], 0
    for start_line, chunk in _chunks(source, first_line):
        part = _read_chunk(chunk, start_line, sep, list(names), list(text_columns), decimal)
        part = _drop_bad_text_lines(part, source)
        part, blank = _sort_out_short_rows(part, source, sep, len(names))
        frames.append(part.frame)
        rejected.append(part.rejections)
        blanks += blank
        if progress is not None:
            progress(chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1))
    frame = _concat_frames(frames, names, text_columns)
    return Table(frame, _concat_rejections(rejected), blanks)


def _chunks(source: SourceText, first_line: int) -> Iterator[tuple[int, bytes]]:
    """(first line number, bytes) pieces of whole lines, about CHUNK_BYTES each."""
    data, line = source.data, first_line
    position = source.line_offset(first_line)
    while position < len(data):
        end = data.find(b"\n", position + CHUNK_BYTES)
        end = len(data) if end < 0 else end + 1
        chunk = data[position:end]
        yield line, chunk
        line += chunk.count(b"\n")
        position = end


def _csv_options(sep: str, names: list[str], decimal: str) -> dict:
    # QUOTE_NONE: a stray quote must not swallow the following lines into one field;
    # skip_blank_lines=False keeps row i of the result on line start+i.
    return dict(sep=sep, header=None, names=names, index_col=False, quoting=csv.QUOTE_NONE,
                skip_blank_lines=False, engine="c", decimal=decimal, encoding="utf-8")


def _read_chunk(chunk: bytes, start_line: int, sep: str, names: list[str],
                text_columns: list[str], decimal: str) -> Table:
    dtypes = {name: ("category" if name in text_columns else "float64") for name in names}
    try:
        with warnings.catch_warnings():
            # Extra fields on a chunk's FIRST line only warn (and are dropped); anywhere else
            # they raise. Either way the slow path finds the line.
            warnings.simplefilter("error", ParserWarning)
            frame = pd.read_csv(io.BytesIO(chunk), dtype=dtypes,
                                **_csv_options(sep, names, decimal))
        rejections = empty_rejections()
    except (ParserError, ParserWarning, ValueError, OverflowError):
        frame, rejections = _read_chunk_slowly(chunk, start_line, sep, names, text_columns,
                                               decimal)
        return Table(frame, rejections, 0)
    frame.insert(0, "line", np.arange(start_line, start_line + len(frame), dtype=np.int64))
    return Table(frame, rejections, 0)


def _read_chunk_slowly(chunk: bytes, start_line: int, sep: str, names: list[str],
                       text_columns: list[str], decimal: str) -> tuple[pd.DataFrame,
                                                                       pd.DataFrame]:
    """The C parser refused this chunk: find the lines at fault and parse the rest."""
    lines = chunk.split(b"\n")
    if chunk.endswith(b"\n"):
        lines.pop()
    separator = sep.encode()
    counts = np.fromiter((line.count(separator) + 1 for line in lines), dtype=np.int64,
                         count=len(lines))
    blank = np.fromiter((not line.strip() for line in lines), dtype=bool, count=len(lines))
    wrong = (counts != len(names)) & ~blank
    bad_lines = np.flatnonzero(wrong) + start_line
    rejections = rejections_frame(
        bad_lines, Reason.UNPARSABLE,
        [f"expected {len(names)} fields separated by {sep!r}, found {n}" for n in counts[wrong]])
    kept = b"\n".join(b"" if w else line for w, line in zip(wrong, lines, strict=True)) + b"\n"
    frame = pd.read_csv(io.BytesIO(kept), dtype=str, **_csv_options(sep, names, decimal))
    frame.insert(0, "line", np.arange(start_line, start_line + len(frame), dtype=np.int64))
    frame = frame[~wrong]
    frame, bad_numbers = _coerce_numbers(frame, [n for n in names if n not in text_columns],
                                         decimal)
    for name in text_columns:
        frame[name] = frame[name].astype("category")
    return frame, pd.concat([rejections, bad_numbers], ignore_index=True)


def _coerce_numbers(frame: pd.DataFrame, columns: list[str],
                    decimal: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Columns to float64; a cell that is neither a number nor a NaN literal rejects its row."""
    bad = np.zeros(len(frame), dtype=bool)
    details = np.full(len(frame), "", dtype=object)
    frame = frame.copy()
    for name in columns:
        text = frame[name]
        cleaned = text.str.strip().str.strip('"')
        if decimal != ".":
            cleaned = cleaned.str.replace(decimal, ".", regex=False)
        values = pd.to_numeric(cleaned, errors="coerce").astype("float64")
        not_number = (values.isna() & ~cleaned.isna() & ~cleaned.isin(NA_LITERALS)).to_numpy()
        new = not_number & ~bad
        details[new] = [f"column {name}: {value!r} is not a number"
                        for value in text.to_numpy()[new]]
        bad |= not_number
        frame[name] = values.to_numpy()
    rejections = rejections_frame(frame["line"].to_numpy()[bad], Reason.UNPARSABLE,
                                  list(details[bad]))
    return frame[~bad], rejections


BAD_CHARACTERS = "invalid characters (undecodable bytes or control codes)"


def _drop_bad_text_lines(part: Table, source: SourceText) -> Table:
    """Lines that had undecodable or control characters are rejected as such, whatever else
    is wrong with them."""
    if not len(source.bad_lines):
        return part
    hit = np.isin(part.frame["line"].to_numpy(), source.bad_lines)
    earlier = part.rejections.copy()
    earlier.loc[earlier["line"].isin(source.bad_lines), "detail"] = BAD_CHARACTERS
    rejections = rejections_frame(part.frame["line"].to_numpy()[hit], Reason.UNPARSABLE,
                                  BAD_CHARACTERS)
    return Table(part.frame[~hit], pd.concat([earlier, rejections], ignore_index=True),
                 part.blank_lines)


def _sort_out_short_rows(part: Table, source: SourceText, sep: str,
                         n_fields: int) -> tuple[Table, int]:
    """Rows with a missing cell are blank lines, lines with too few fields, or real NaN cells.

    The C parser pads short lines with NaN, so only rows with a NaN are looked at, by their
    text (usually none are).
    """
    frame = part.frame
    suspect = frame.drop(columns="line").isna().any(axis=1).to_numpy()
    if not suspect.any():
        return part, 0
    numbers = frame["line"].to_numpy()[suspect]
    texts = source.lines(numbers, limit=1 << 20)
    blank = np.array([not t.strip() for t in texts], dtype=bool)
    counts = np.array([t.count(sep) + 1 for t in texts], dtype=np.int64)
    short = ~blank & (counts != n_fields)
    drop = np.zeros(len(frame), dtype=bool)
    drop[np.flatnonzero(suspect)[blank | short]] = True
    rejections = rejections_frame(
        numbers[short], Reason.UNPARSABLE,
        [f"expected {n_fields} fields separated by {sep!r}, found {n}" for n in counts[short]])
    table = Table(frame[~drop], pd.concat([part.rejections, rejections], ignore_index=True),
                  part.blank_lines)
    return table, int(blank.sum())


def _concat_frames(frames: list[pd.DataFrame], names: Sequence[str],
                   text_columns: Sequence[str]) -> pd.DataFrame:
    if not frames:
        empty = {"line": np.empty(0, dtype=np.int64)}
        empty.update({n: pd.Categorical([]) if n in text_columns else np.empty(0)
                      for n in names})
        return pd.DataFrame(empty)
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    # Chunks have their own categories: union them so the text columns stay categorical.
    for name in text_columns:
        categories = pd.api.types.union_categoricals([f[name] for f in frames]).categories
        for f in frames:
            f[name] = f[name].cat.set_categories(categories)
    return pd.concat(frames, ignore_index=True)


def _concat_rejections(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else empty_rejections()


# --- time columns -------------------------------------------------------------------------

def times_from_categories(column: pd.Series, formats: Sequence[str], *,
                          utc: bool = False, prefix: str = "") -> np.ndarray:
    """Parse a categorical text column with the first of ``formats`` each value matches.

    Each distinct value is parsed once (hot path: a few thousand dates, not a million rows).
    Values matching no format, or outside 1970-2099, become NaT. Returns datetime64[us]: naive
    wall-clock time, or UTC (still naive) when ``utc`` (values carrying their own offset).
    """
    categories = pd.Index(column.cat.categories).astype(str).str.strip().str.strip('"')
    if prefix:
        categories = prefix + categories
    parsed = np.full(len(categories), NAT, dtype=np.int64)
    for fmt in formats:
        missing = parsed == NAT
        if not missing.any():
            break
        attempt = pd.DatetimeIndex(pd.to_datetime(categories[missing], format=fmt,
                                                  errors="coerce", utc=utc))
        if attempt.tz is not None:
            attempt = attempt.tz_convert("UTC").tz_localize(None)
        values = attempt.as_unit("us").asi8.copy()
        values[(values < EARLIEST) | (values >= LATEST)] = NAT
        parsed[missing] = values
    codes = column.cat.codes.to_numpy()
    out = np.full(len(codes), NAT, dtype=np.int64)
    known = codes >= 0
    out[known] = parsed[codes[known]]
    return out.view("datetime64[us]")


def time_of_day_from_categories(column: pd.Series) -> np.ndarray:
    """Parse ``HH:MM:SS`` / ``HH:MM`` categories into timedelta64[us] (NaT when neither)."""
    stamps = times_from_categories(column, ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"),
                                   prefix="1970-01-01 ")
    return stamps - np.datetime64("1970-01-01T00:00:00", "us")


def reject_unparsed_times(frame: pd.DataFrame, times: np.ndarray,
                          columns: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Put parsed ``times`` into ``frame["time"]``; rows whose time did not parse are rejected.

    ``columns`` are the text columns the time came from (quoted in the rejection detail).
    """
    bad = np.isnat(times)
    texts = [frame[c].to_numpy(dtype=object)[bad] for c in columns] if bad.any() else []
    shown = [" ".join("" if pd.isna(p) else str(p) for p in parts).strip()
             for parts in zip(*texts, strict=True)] if texts else []
    rejections = rejections_frame(
        frame["line"].to_numpy()[bad], Reason.UNPARSABLE,
        [f"time {v!r} is not a date/time in the expected format (years 1970-2099)" if v
         else "missing time" for v in shown])
    return frame.assign(time=times)[~bad], rejections


def finish_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the parsed columns in order; absent optional columns: real_volume 0, spread NaN."""
    out = pd.DataFrame({"line": frame["line"].to_numpy(dtype=np.int64),
                        "time": frame["time"].to_numpy()})
    for name in VALUE_COLUMNS:
        if name in frame:
            out[name] = frame[name].to_numpy(dtype="float64")
        else:
            out[name] = 0.0 if name == "real_volume" else np.nan
    return out


def merge_rejections(*parts: pd.DataFrame) -> pd.DataFrame:
    return _concat_rejections(list(parts)).sort_values("line", kind="stable",
                                                       ignore_index=True)
