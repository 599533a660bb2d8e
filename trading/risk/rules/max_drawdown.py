"""Kill switch: equity more than X % below its peak (measured at trade closes)."""

from __future__ import annotations

from datetime import datetime

from trading.risk.config import RiskConfig
from trading.risk.rules._common import kill_switch_halt
from trading.risk.state import Halt, RiskState

RULE = "max_drawdown"


def check(config: RiskConfig, state: RiskState, now: datetime) -> Halt | None:
    limit = config.max_drawdown_pct
    if limit is None or state.equity_peak <= 0:
        return None
    drawdown_pct = (state.equity_peak - state.equity) / state.equity_peak * 100.0
    if drawdown_pct > limit:
        reason = f"drawdown {drawdown_pct:.2f}% from the peak (limit {limit:g}%)"
        return kill_switch_halt(config, now, RULE, reason)
    return None
