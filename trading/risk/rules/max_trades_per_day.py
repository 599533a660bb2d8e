"""At most N new positions per UTC calendar day."""

from __future__ import annotations

from datetime import datetime

from trading.risk.config import RiskConfig
from trading.risk.state import RiskDecision, RiskState, next_utc_midnight, utc_day

RULE = "max_trades_per_day"


def check(config: RiskConfig, state: RiskState, now: datetime,
          symbol: str) -> RiskDecision | None:
    limit = config.max_trades_per_day
    if limit is None:
        return None
    # A state last touched on an earlier day has no trades today (stale counters are ignored).
    today = state.trades_today if state.day == utc_day(now) else 0
    if today >= limit:
        return RiskDecision(False, RULE, f"{today} trades already opened today (limit {limit})",
                            next_utc_midnight(now))
    return None
