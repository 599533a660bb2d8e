"""Risk rules and kill switches shared by the backtester and the live engine (pure).

Public API::

    RiskConfig, RiskState, RiskDecision, Halt, FOREVER
    refresh(config, state, now, equity) -> RiskState
    check_entry(config, state, now, symbol) -> RiskDecision
    on_trade_opened(config, state, now, symbol, equity) -> RiskState
    on_trade_closed(config, state, now, symbol, pnl, equity) -> (RiskState, list[Halt])
    release(state, equity) -> RiskState
    lots_for_risk(...), round_volume(...)

One rule per module in :mod:`trading.risk.rules`. See docs/backtesting.md, "Risk rules".
"""

from __future__ import annotations

from trading.risk.checks import check_entry, on_trade_closed, on_trade_opened, refresh, release
from trading.risk.config import RiskConfig
from trading.risk.rules import KILL_SWITCH_RULES
from trading.risk.sizing import lots_for_risk, round_volume
from trading.risk.state import (
    ALLOWED,
    FOREVER,
    Halt,
    RiskDecision,
    RiskState,
    next_utc_midnight,
    utc_day,
)

__all__ = [
    "ALLOWED", "FOREVER", "KILL_SWITCH_RULES", "Halt", "RiskConfig", "RiskDecision",
    "RiskState", "check_entry", "lots_for_risk", "next_utc_midnight", "on_trade_closed",
    "on_trade_opened", "refresh", "release", "round_volume", "utc_day",
]
