"""Timeframes: the one place that knows their lengths and names (pure: no Django imports).

A bar's time is its OPEN time, in UTC. A bar of timeframe ``tf`` opened at ``t`` is complete
(closed) at ``t + duration(tf)``; only then may anything use its close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where used: django.setup() must not pay for it
    import pandas as pd


@dataclass(frozen=True)
class Timeframe:
    name: str
    minutes: int
    # pandas offset alias used for resampling/alignment (left-labelled, left-closed bins)
    pandas_freq: str
    # MetaTrader5 TIMEFRAME_* constant value (same numbers the MetaTrader5 module uses)
    mt5_value: int

    @property
    def delta(self) -> pd.Timedelta:
        import pandas as pd

        return pd.Timedelta(minutes=self.minutes)

    @property
    def bars_per_year(self) -> float:
        """Trading bars per year on the forex week (5 days x 24 h, 52 weeks)."""
        return 52 * 5 * 24 * 60 / self.minutes


TIMEFRAMES: dict[str, Timeframe] = {
    "M1": Timeframe("M1", 1, "1min", 1),
    "M5": Timeframe("M5", 5, "5min", 5),
    "M15": Timeframe("M15", 15, "15min", 15),
    "M30": Timeframe("M30", 30, "30min", 30),
    "H1": Timeframe("H1", 60, "1h", 16385),
    "H4": Timeframe("H4", 240, "4h", 16388),
    "D1": Timeframe("D1", 1440, "1D", 16408),
}
CHOICES: list[tuple[str, str]] = [(name, name) for name in TIMEFRAMES]


def get(name: str) -> Timeframe:
    """The timeframe called ``name`` (case-insensitive), or ValueError naming the valid ones."""
    try:
        return TIMEFRAMES[name.upper()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown timeframe {name!r}; use one of {', '.join(TIMEFRAMES)}"
        ) from None
