"""The risk functions the backtester and the live engine call (pure: no Django imports).

Call sequence for one position (the backtester makes these calls, the live engine too)::

    state = refresh(config, state, now, equity)          # optional: roll the UTC day, lift
                                                         # expired halts (check_entry reads a
                                                         # stale state correctly anyway)
    decision = check_entry(config, state, now, symbol)   # may a new position open now?
    if decision.allowed:
        state = on_trade_opened(config, state, now, symbol, equity)
    ...
    state, halts = on_trade_closed(config, state, now, symbol, pnl, equity)

Each function returns a new ``RiskState``; nothing is mutated. ``now`` is an aware UTC
datetime; money may be ``Decimal`` or float (converted to float: the values only feed
thresholds, the books are kept by ``trading.pnl``). Daily rules use UTC calendar days.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from trading.risk.config import RiskConfig
from trading.risk.rules import CLOSE_RULES, ENTRY_RULES, KILL_SWITCH_RULES
from trading.risk.state import ALLOWED, Halt, RiskDecision, RiskState, utc_day

_ENTRY_CHECKS = tuple(rule.check for rule in ENTRY_RULES)
_CLOSE_CHECKS = tuple(rule.check for rule in CLOSE_RULES)


def refresh(config: RiskConfig, state: RiskState, now: datetime,
            equity: Decimal | float) -> RiskState:
    """``state`` brought to ``now``: daily counters of a new UTC day start from ``equity``; an
    expired halt is lifted (an expired kill switch also clears the trade window, the losing
    streak and the equity peak, so the rules judge the trading after the cool-down afresh)."""
    today = utc_day(now)
    if state.day == today and state.halted_until is None:
        return state  # the common case, kept cheap: the backtester calls this per trade
    value = float(equity)
    if state.halted_until is not None and now >= state.halted_until:
        state = _lift_halt(state, value)
    if state.day != today:
        state = state.evolve(day=today, trades_today=0, day_start_equity=value, daily_pnl=0.0)
    return state


def check_entry(config: RiskConfig, state: RiskState, now: datetime,
                symbol: str) -> RiskDecision:
    """May a new ``symbol`` position open at ``now``? The first rule that says no decides."""
    if state.halted_until is not None and now < state.halted_until:
        return RiskDecision(False, state.halt_rule, f"halted: {state.halt_reason}",
                            state.halted_until)
    for check in _ENTRY_CHECKS:
        decision = check(config, state, now, symbol)
        if decision is not None:
            return decision
    return ALLOWED


def on_trade_opened(config: RiskConfig, state: RiskState, now: datetime, symbol: str,
                    equity: Decimal | float) -> RiskState:
    """Count a position that opened at ``now`` (after :func:`check_entry` allowed it)."""
    state = refresh(config, state, now, equity)
    return state.evolve(trades_today=state.trades_today + 1,
                   open_positions=(*state.open_positions, symbol))


def on_trade_closed(config: RiskConfig, state: RiskState, now: datetime, symbol: str,
                    pnl: Decimal | float,
                    equity: Decimal | float) -> tuple[RiskState, list[Halt]]:
    """Record a position of ``symbol`` closed at ``now`` with net ``pnl``; ``equity`` is the
    account equity after it. Returns the new state and the halts this close triggered."""
    result, value = float(pnl), float(equity)
    if state.halted_until is not None or state.day != utc_day(now):
        # A new day's start is the equity before this close, not after it.
        state = refresh(config, state, now, value - result)
    state = state.evolve(
        daily_pnl=state.daily_pnl + result,
        open_positions=_without(state.open_positions, symbol),
        equity=value,
        equity_peak=max(state.equity_peak, value),
        recent=(*state.recent, result)[-config.kill_switch_window:],
        loss_streak=state.loss_streak + 1 if result <= 0 else 0,
    )
    halts = [halt for check in _CLOSE_CHECKS if (halt := check(config, state, now))]
    for halt in halts:
        state = _apply_halt(state, halt)
    return state, halts


def release(state: RiskState, equity: Decimal | float) -> RiskState:
    """Lift any halt by hand (an operator's decision in live trading) and start afresh."""
    return _lift_halt(state, float(equity)) if state.halted_until is not None else state


def _apply_halt(state: RiskState, halt: Halt) -> RiskState:
    # Concurrent halts: the one lasting longest wins (and names the rule and the reason).
    if state.halted_until is not None and state.halted_until >= halt.until:
        return state
    return state.evolve(halted_until=halt.until, halt_rule=halt.rule, halt_reason=halt.reason)


def _lift_halt(state: RiskState, equity: float) -> RiskState:
    fresh = state.halt_rule in KILL_SWITCH_RULES
    return state.evolve(
        halted_until=None, halt_rule=None, halt_reason="",
        recent=() if fresh else state.recent,
        loss_streak=0 if fresh else state.loss_streak,
        equity_peak=equity if fresh else state.equity_peak,
    )


def _without(symbols: tuple[str, ...], symbol: str) -> tuple[str, ...]:
    if symbol not in symbols:
        return symbols
    index = symbols.index(symbol)
    return symbols[:index] + symbols[index + 1:]
