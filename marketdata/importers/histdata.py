"""HistData.com "Generic ASCII" M1 bar files (pure).

No header; one bar per line, semicolon-separated, time ``YYYYMMDD HHMMSS``::

    20170419 090000;1.071250;1.071320;1.071180;1.071300;0

HistData.com documents its timestamps as EST *without* daylight saving, i.e. fixed UTC-5: that
is the default assumption (``--tz`` overrides it). The volume column is always 0.
"""

from __future__ import annotations

import re

from marketdata.importers.base import (
    ParsedFile,
    Progress,
    finish_frame,
    merge_rejections,
    read_delimited,
    reject_unparsed_times,
    times_from_categories,
)
from marketdata.importers.source import SourceText
from nusatrade.errors import DataError

NAME = "histdata"
DEFAULT_TZ = "UTC-5"
TZ_CONTEXT = "HistData.com files are in EST without daylight saving (fixed UTC-5)"
NAMES = ("time", "open", "high", "low", "close", "volume")
_LINE = re.compile(r"^\d{8} \d{6};")


def sniff(first_line: str) -> bool:
    return bool(_LINE.match(first_line.strip()))


def parse(source: SourceText, progress: Progress | None = None) -> ParsedFile:
    number, first = source.first_nonblank_line()
    if not sniff(first):
        raise DataError("not a HistData.com ASCII file: expected lines like "
                        f"'20170419 090000;o;h;l;c;v', found {first[:60]!r}",
                        source=source.name, line=number)
    table = read_delimited(source, first_line=number, sep=";", names=NAMES,
                           text_columns=["time"], progress=progress)
    times = times_from_categories(table.frame["time"], ("%Y%m%d %H%M%S",))
    frame, bad_times = reject_unparsed_times(table.frame, times, ["time"])
    return ParsedFile(NAME, source, finish_frame(frame),
                      merge_rejections(table.rejections, bad_times), DEFAULT_TZ, TZ_CONTEXT,
                      blank_lines=table.blank_lines)
