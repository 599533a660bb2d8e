"""Kill switch: N losing trades in a row (a trade that does not make money is a loss)."""

from __future__ import annotations

from datetime import datetime

from trading.risk.config import RiskConfig
from trading.risk.rules._common import kill_switch_halt
from trading.risk.state import Halt, RiskState

RULE = "consecutive_losses"


def check(config: RiskConfig, state: RiskState, now: datetime) -> Halt | None:
    limit = config.max_consecutive_losses
    if limit is not None and state.loss_streak >= limit:
        reason = f"{state.loss_streak} losing trades in a row (limit {limit})"
        return kill_switch_halt(config, now, RULE, reason)
    return None
