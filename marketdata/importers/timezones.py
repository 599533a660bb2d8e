"""The time zone a file's timestamps are written in, and conversion to UTC (pure).

``--tz`` accepts:

* ``UTC`` / ``GMT`` / ``Z``;
* a fixed offset: ``UTC+2``, ``GMT-5``, ``UTC+05:30``, ``+0200``;
* ``NY+7``: New York time plus 7 hours, i.e. UTC+2 in the northern winter and UTC+3 in summer,
  switching on US dates. Most MetaTrader brokers run their server clock like this so that the
  trading day ends at 17:00 New York;
* any IANA zone name (``Europe/Athens``, ``EET``, ``EST``), with that zone's daylight-saving
  rules (``EET`` has them; ``EST`` is fixed UTC-5).

HistData.com files are in EST without daylight saving: fixed UTC-5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_UTC_NAMES = {"UTC", "GMT", "Z", "ETC/UTC", "UTC+0", "UTC-0", "GMT+0", "GMT-0", "+00:00"}
NY_PLUS_7 = "NY+7"
NO_SHIFT = pd.Timedelta(0)


@dataclass(frozen=True)
class SourceTimeZone:
    """A parsed ``--tz``: either a fixed offset from UTC or a zone with DST rules."""

    name: str
    description: str
    offset: pd.Timedelta | None = None
    zone: str | None = None
    # Added to the zone's wall clock to get the file's clock (NY+7: 7 hours).
    shift: pd.Timedelta = NO_SHIFT

    @property
    def is_utc(self) -> bool:
        return self.offset is not None and self.offset == pd.Timedelta(0)


def parse_tz(spec: str | None) -> SourceTimeZone:
    """Parse a ``--tz`` value; ValueError (naming the accepted forms) when it is not one."""
    text = (spec or "UTC").strip()
    if text.upper() in _UTC_NAMES:
        return SourceTimeZone("UTC", "UTC", offset=pd.Timedelta(0))
    if text.upper() == NY_PLUS_7:
        return SourceTimeZone(NY_PLUS_7, "NY+7 (New York time + 7 h: UTC+2 winter, UTC+3 "
                              "summer on US DST dates)", zone="America/New_York",
                              shift=pd.Timedelta(hours=7))
    match = _OFFSET.match(text)
    if match:
        return _fixed(match)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError, OSError):
        raise ValueError(
            f"unknown time zone {text!r}: use UTC, a fixed offset like UTC+2 or UTC-05:00, "
            "NY+7, or an IANA name like Europe/Athens") from None
    return SourceTimeZone(text, f"{text} (IANA zone, with its daylight-saving rules)",
                          zone=text)


def fixed_offset(hours: int, description: str) -> SourceTimeZone:
    sign = "+" if hours >= 0 else "-"
    return SourceTimeZone(f"UTC{sign}{abs(hours)}", description,
                          offset=pd.Timedelta(hours=hours))


def _fixed(match: re.Match[str]) -> SourceTimeZone:
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes >= 60:
        raise ValueError(f"offset out of range: {match.group(0)!r} (at most ±14:00)")
    offset = pd.Timedelta(hours=hours, minutes=minutes) * (1 if sign == "+" else -1)
    if offset == pd.Timedelta(0):
        return SourceTimeZone("UTC", "UTC", offset=offset)
    name = f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
    return SourceTimeZone(name, f"{name} (fixed offset, no daylight saving)", offset=offset)


def to_utc(wall: np.ndarray, tz: SourceTimeZone) -> np.ndarray:
    """Wall-clock datetime64 in ``tz`` -> UTC datetime64 (naive), same unit.

    A wall time that a DST change skips or repeats has no single UTC time: it becomes NaT and
    the caller rejects the row (forex is closed at the usual change times, so real bar files do
    not hit this).
    """
    if tz.offset is not None:
        unit = np.datetime_data(wall.dtype)[0]
        return wall - np.timedelta64(tz.offset // pd.Timedelta(1, unit=unit), unit)
    local = pd.DatetimeIndex(wall - tz.shift.to_timedelta64()).tz_localize(
        tz.zone, ambiguous="NaT", nonexistent="NaT")
    return local.tz_convert("UTC").tz_localize(None).to_numpy(dtype=wall.dtype)
