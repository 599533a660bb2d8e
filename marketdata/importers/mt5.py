"""MetaTrader 5 "Export bars" files (pure).

The terminal's *Symbols > Bars > Export Bars* writes a header of ``<NAME>`` tokens and one bar
per line, tab-separated, usually UTF-16LE with a BOM and CRLF line ends::

    <DATE>	<TIME>	<OPEN>	<HIGH>	<LOW>	<CLOSE>	<TICKVOL>	<VOL>	<SPREAD>
    2017.04.19	09:00:00	1284.49	1285.10	1283.90	1284.77	1234	0	35

Daily exports have no ``<TIME>`` column. Times are the broker's server clock (see ``--tz``).
A copy re-saved by a spreadsheet with commas or semicolons is read too.
"""

from __future__ import annotations

from marketdata.importers.base import (
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

NAME = "mt5"
DEFAULT_TZ = "UTC"
TZ_CONTEXT = "MT5 exports are written in the broker's server time"
COLUMNS = {"DATE": "date", "TIME": "time_of_day", "OPEN": "open", "HIGH": "high",
           "LOW": "low", "CLOSE": "close", "TICKVOL": "volume", "VOL": "real_volume",
           "SPREAD": "spread"}
REQUIRED = ("DATE", "OPEN", "HIGH", "LOW", "CLOSE", "TICKVOL")
DATE_FORMATS = ("%Y.%m.%d", "%Y-%m-%d", "%Y/%m/%d")


def sniff(first_line: str) -> bool:
    return first_line.lstrip().upper().startswith("<DATE>")


def parse(source: SourceText, progress: Progress | None = None) -> ParsedFile:
    number, header = source.first_nonblank_line()
    if not sniff(header):
        raise DataError("not a MetaTrader 5 bars export: expected a header starting with "
                        f"<DATE>, found {header[:60]!r}", source=source.name, line=number)
    sep, names = _columns(header, source.name, number)
    text_columns = [n for n in names if n in ("date", "time_of_day") or n.startswith("extra")]
    table = read_delimited(source, first_line=number + 1, sep=sep, names=names,
                           text_columns=text_columns, progress=progress)
    frame = table.frame
    times = times_from_categories(frame["date"], DATE_FORMATS)
    if "time_of_day" in names:
        times = times + time_of_day_from_categories(frame["time_of_day"])
    frame, bad_times = reject_unparsed_times(
        frame, times, [c for c in ("date", "time_of_day") if c in names])
    return ParsedFile(NAME, source, finish_frame(frame),
                      merge_rejections(table.rejections, bad_times), DEFAULT_TZ, TZ_CONTEXT,
                      blank_lines=table.blank_lines)


def _columns(header: str, name: str, line: int) -> tuple[str, list[str]]:
    """The separator and our column names for an MT5 header line."""
    sep = max(("\t", ",", ";"), key=lambda s: header.count(s))
    tokens = [t.strip().strip('"').strip("<>").upper() for t in header.split(sep)]
    if "BID" in tokens or "ASK" in tokens:
        raise DataError("this is an MT5 tick export (<BID>/<ASK>); export bars instead",
                        source=name, line=line)
    missing = [f"<{t}>" for t in REQUIRED if t not in tokens]
    if missing:
        raise DataError(f"the MT5 header lacks {', '.join(missing)}", source=name, line=line)
    if len(set(tokens)) != len(tokens):
        raise DataError("the MT5 header names a column twice", source=name, line=line)
    return sep, [COLUMNS.get(t, f"extra{i}") for i, t in enumerate(tokens)]
