"""Calendar and trading-session features of each bar's OPEN time (pure, hot path).

A bar's open time is known before its close, so these never look ahead. Sessions are in the
local time of their centre, so London and New York follow their own daylight-saving dates
(the two switch on different weekends; a fixed UTC window would be an hour off for weeks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.features import spec as S
from mlops.features.bars import BarArrays

HOUR_NS = 3_600_000_000_000
DAY_NS = 24 * HOUR_NS


def calendar(b: BarArrays) -> dict[str, np.ndarray]:
    hour = (b.time_ns // HOUR_NS) % 24
    weekday = (b.time_ns // DAY_NS + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    hour_angle = 2.0 * np.pi * hour / 24.0
    day_angle = 2.0 * np.pi * weekday / 7.0
    out = {
        "hour_sin": np.sin(hour_angle), "hour_cos": np.cos(hour_angle),
        "dow_sin": np.sin(day_angle), "dow_cos": np.cos(day_angle),
    }
    utc = pd.DatetimeIndex(b.time_ns.view("datetime64[ns]")).tz_localize("UTC")
    for name, (zone, start, end) in S.SESSIONS.items():
        local_hour = utc.tz_convert(zone).hour.to_numpy()
        out[f"session_{name}"] = ((local_hour >= start) & (local_hour < end)).astype(np.float64)
    out["session_overlap"] = out["session_london"] * out["session_newyork"]
    return out
