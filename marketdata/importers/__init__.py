"""Bar file importers, one format per module (pure: no Django).

``parse_file(path, fmt)`` reads a file (gzip/zip, UTF-8/UTF-16, any line ends), detects or
checks its format and returns a ``ParsedFile``: the rows that parsed plus a rejection for every
data line that did not. A file that cannot be read at all raises ``DataError``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from marketdata.importers import generic, histdata, mt5
from marketdata.importers.base import ParsedFile, Progress
from marketdata.importers.rejections import Reason
from marketdata.importers.source import SourceText, read_source, source_from_bytes
from nusatrade.errors import DataError

# Detection order: the two fixed formats are recognised by their first line exactly; generic
# is the fallback that needs a header naming the columns.
FORMATS: dict[str, ModuleType] = {"mt5": mt5, "histdata": histdata, "generic": generic}
FORMAT_CHOICES = ("auto", *FORMATS)

__all__ = ["FORMATS", "FORMAT_CHOICES", "ParsedFile", "Progress", "Reason", "SourceText",
           "detect_format", "parse_file", "parse_source", "read_source", "source_from_bytes"]


def detect_format(source: SourceText) -> str:
    """The name of the format ``source`` is in, by its first non-blank line."""
    number, first = source.first_nonblank_line()
    for name, module in FORMATS.items():
        if module.sniff(first):
            return name
    raise DataError(
        f"unknown format: the first line {first[:60]!r} is neither an MT5 export header "
        "(<DATE> <TIME> <OPEN>...), a HistData.com line (20170419 090000;o;h;l;c;v) nor a "
        "CSV header naming time, open, high, low and close", source=source.name, line=number)


def parse_source(source: SourceText, fmt: str = "auto",
                 progress: Progress | None = None) -> ParsedFile:
    """Parse ``source`` as ``fmt`` ("auto" detects it); DataError if nothing can be read."""
    if fmt not in FORMAT_CHOICES:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMAT_CHOICES)}")
    name = detect_format(source) if fmt == "auto" else fmt
    parsed = FORMATS[name].parse(source, progress=progress)
    if parsed.rows_read == 0:
        raise DataError("no data rows (the file has only a header or blank lines)",
                        source=source.name)
    return parsed


def parse_file(path: str | Path, fmt: str = "auto",
               progress: Progress | None = None) -> ParsedFile:
    return parse_source(read_source(path), fmt, progress)
