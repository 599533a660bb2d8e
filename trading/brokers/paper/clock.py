"""A clock tests and drills can drive (pass it as a broker's ``clock``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd


class ManualClock:
    """Stands still until told: ``clock.set("2024-03-05 10:30")``, ``clock.advance(hours=1)``.
    Times are UTC (naive strings are taken as UTC)."""

    def __init__(self, start: str | datetime) -> None:
        self._now = self._utc(start)

    @staticmethod
    def _utc(value: str | datetime) -> datetime:
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
        return stamp.to_pydatetime()

    def __call__(self) -> datetime:
        return self._now

    def set(self, value: str | datetime) -> None:
        self._now = self._utc(value)

    def advance(self, **delta: float) -> None:
        self._now = self._now + timedelta(**delta)
