"""Kill switch: profit factor of the recent trades below the minimum."""

from __future__ import annotations

from datetime import datetime

from trading.risk.config import RiskConfig
from trading.risk.rules._common import kill_switch_halt
from trading.risk.state import Halt, RiskState

RULE = "profit_factor"


def rolling_profit_factor(results: tuple[float, ...]) -> float:
    """Gross profit / gross loss of ``results``; infinite without losses (0/0 too)."""
    gains = sum([r for r in results if r > 0])
    losses = -sum([r for r in results if r < 0])
    return gains / losses if losses > 0 else float("inf")


def check(config: RiskConfig, state: RiskState, now: datetime) -> Halt | None:
    minimum = config.min_profit_factor
    if minimum is None or len(state.recent) < config.kill_switch_min_trades:
        return None
    value = rolling_profit_factor(state.recent)
    if value < minimum:
        reason = (f"profit factor {value:.2f} over the last {len(state.recent)} trades "
                  f"(minimum {minimum:g})")
        return kill_switch_halt(config, now, RULE, reason)
    return None
