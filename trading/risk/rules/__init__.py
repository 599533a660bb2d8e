"""One risk rule per module.

Entry rules (``check(config, state, now, symbol) -> RiskDecision | None``) run before a new
position opens; close rules (``check(config, state, now) -> Halt | None``) run on the state
that already includes a just-closed trade and may halt new entries.
"""

from __future__ import annotations

from trading.risk.rules import (
    consecutive_losses,
    daily_loss_stop,
    max_drawdown,
    max_trades_per_day,
    one_position_per_symbol,
    profit_factor,
    win_rate,
)

ENTRY_RULES = (one_position_per_symbol, max_trades_per_day)
CLOSE_RULES = (daily_loss_stop, consecutive_losses, profit_factor, win_rate, max_drawdown)
# Kill switches: halts that last the cool-down (or for good) and reset the trade window after.
KILL_SWITCH_RULES = frozenset(
    rule.RULE for rule in (consecutive_losses, profit_factor, win_rate, max_drawdown)
)
