"""At most one open position per symbol."""

from __future__ import annotations

from datetime import datetime

from trading.risk.config import RiskConfig
from trading.risk.state import RiskDecision, RiskState

RULE = "one_position_per_symbol"


def check(config: RiskConfig, state: RiskState, now: datetime,
          symbol: str) -> RiskDecision | None:
    if config.one_position_per_symbol and symbol in state.open_positions:
        # No ``until``: it lifts when that position closes, whenever that is.
        return RiskDecision(False, RULE, f"a {symbol} position is already open")
    return None
