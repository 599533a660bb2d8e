"""Position sizing (pure; the backtester compiles ``lots_for_risk`` with numba: floats, math
only, no calls to other Python functions).

Both the backtester and the live engine size with these functions so a backtest trades the
lots the live engine would have traded.
"""

from __future__ import annotations

import math


def round_volume(lots: float, volume_step: float, volume_min: float,
                 volume_max: float) -> float:
    """``lots`` floored to the volume step and capped at the maximum; 0.0 when below the
    minimum (no trade: rounding up would risk more than asked)."""
    steps = math.floor(lots / volume_step + 1e-9)
    volume = round(min(steps * volume_step, volume_max), 8)
    return volume if volume >= volume_min - 1e-12 else 0.0


def lots_for_risk(equity: float, risk_pct: float, stop_distance: float,
                  value_per_price_unit: float, volume_step: float, volume_min: float,
                  volume_max: float) -> float:
    """Lots whose stop-loss (``stop_distance`` price units from the fill) loses ``risk_pct``
    percent of ``equity`` (spread, slippage and commission come on top), rounded down to the
    volume step; 0.0 when that is below the minimum volume or the inputs make no trade."""
    if equity <= 0.0 or stop_distance <= 0.0 or risk_pct <= 0.0:
        return 0.0
    raw = equity * risk_pct / 100.0 / (stop_distance * value_per_price_unit)
    # round_volume inlined: numba compiles this function alone (a test keeps them equal).
    steps = math.floor(raw / volume_step + 1e-9)
    volume = round(min(steps * volume_step, volume_max), 8)
    return volume if volume >= volume_min - 1e-12 else 0.0
