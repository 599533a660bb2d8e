"""Kill switch: share of winning trades (net P/L > 0) among the recent ones below minimum."""

from __future__ import annotations

from datetime import datetime

from trading.risk.config import RiskConfig
from trading.risk.rules._common import kill_switch_halt
from trading.risk.state import Halt, RiskState

RULE = "win_rate"


def check(config: RiskConfig, state: RiskState, now: datetime) -> Halt | None:
    minimum = config.min_win_rate
    count = len(state.recent)
    if minimum is None or count < config.kill_switch_min_trades:
        return None
    rate = len([r for r in state.recent if r > 0]) / count  # wins: net P/L > 0
    if rate < minimum:
        reason = f"win rate {rate:.0%} over the last {count} trades (minimum {minimum:.0%})"
        return kill_switch_halt(config, now, RULE, reason)
    return None
