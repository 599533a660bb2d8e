"""Stop opening positions for the rest of the UTC day once the day lost X % of its start."""

from __future__ import annotations

from datetime import datetime

from trading.risk.config import RiskConfig
from trading.risk.state import Halt, RiskState, next_utc_midnight

RULE = "daily_loss_stop"


def check(config: RiskConfig, state: RiskState, now: datetime) -> Halt | None:
    limit = config.daily_loss_stop_pct
    if limit is None or state.day_start_equity <= 0:
        return None
    loss_pct = -state.daily_pnl / state.day_start_equity * 100.0
    if loss_pct >= limit:
        reason = f"lost {loss_pct:.2f}% today (limit {limit:g}%)"
        return Halt(time=now, rule=RULE, reason=reason, until=next_utc_midnight(now))
    return None
