"""trading.risk: each rule on its own, then the call sequence the engines make."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from nusatrade.errors import ConfigurationError
from trading import risk
from trading.risk import FOREVER, RiskConfig, RiskState
from trading.risk.rules import (
    consecutive_losses,
    daily_loss_stop,
    max_drawdown,
    max_trades_per_day,
    one_position_per_symbol,
    profit_factor,
    win_rate,
)

MONDAY = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
OFF = {"max_trades_per_day": None, "one_position_per_symbol": False,
       "daily_loss_stop_pct": None, "max_consecutive_losses": None, "min_profit_factor": None,
       "min_win_rate": None, "max_drawdown_pct": None}


def only(**rules: object) -> RiskConfig:
    """A config with every rule off except ``rules``."""
    return RiskConfig(**{**OFF, **rules})


def trade(config: RiskConfig, state: RiskState, pnl: float, when: datetime,
          symbol: str = "XAUUSD") -> tuple[RiskState, list[risk.Halt]]:
    """Open and close one position the way the engines do."""
    state = risk.on_trade_opened(config, state, when, symbol, state.equity)
    return risk.on_trade_closed(config, state, when + timedelta(minutes=30), symbol, pnl,
                                state.equity + pnl)


def run(config: RiskConfig, results: list[float],
        start: datetime = MONDAY) -> tuple[RiskState, list[risk.Halt]]:
    state, halts = RiskState.start(10_000), []
    for i, pnl in enumerate(results):
        state, new = trade(config, state, pnl, start + timedelta(hours=i))
        halts += new
    return state, halts


# --- entry rules -------------------------------------------------------------------------

def test_max_trades_per_day_blocks_the_third_trade_until_utc_midnight() -> None:
    config = only(max_trades_per_day=2)
    state, _ = run(config, [1.0, 1.0])
    decision = risk.check_entry(config, state, MONDAY + timedelta(hours=5), "XAUUSD")
    assert (decision.allowed, decision.rule) == (False, "max_trades_per_day")
    assert decision.until == datetime(2024, 3, 5, tzinfo=UTC)
    assert "2 trades already opened today" in decision.reason


def test_max_trades_per_day_counts_utc_days_even_on_a_stale_state() -> None:
    config = only(max_trades_per_day=2)
    state, _ = run(config, [1.0, 1.0])
    # 23:59 UTC is still Monday; 00:00 UTC is Tuesday (the state was never refreshed).
    assert not risk.check_entry(config, state, datetime(2024, 3, 4, 23, 59, tzinfo=UTC),
                                "XAUUSD").allowed
    assert risk.check_entry(config, state, datetime(2024, 3, 5, 0, 0, tzinfo=UTC),
                            "XAUUSD").allowed
    # A non-UTC clock is converted: Tuesday 01:30 at UTC+2 is Monday 23:30 UTC.
    plus_two = datetime(2024, 3, 5, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert not risk.check_entry(config, state, plus_two, "XAUUSD").allowed


def test_one_position_per_symbol() -> None:
    config = only(one_position_per_symbol=True)
    state = risk.on_trade_opened(config, RiskState.start(10_000), MONDAY, "XAUUSD", 10_000)
    denied = risk.check_entry(config, state, MONDAY, "XAUUSD")
    assert (denied.allowed, denied.rule, denied.until) == (False, "one_position_per_symbol",
                                                           None)
    assert risk.check_entry(config, state, MONDAY, "EURUSD").allowed
    state, _ = risk.on_trade_closed(config, state, MONDAY, "XAUUSD", 5.0, 10_005)
    assert risk.check_entry(config, state, MONDAY, "XAUUSD").allowed


def test_several_positions_per_symbol_when_the_rule_is_off() -> None:
    config = only()
    state = RiskState.start(10_000)
    for _ in range(2):
        state = risk.on_trade_opened(config, state, MONDAY, "XAUUSD", 10_000)
    assert state.open_positions == ("XAUUSD", "XAUUSD")
    state, _ = risk.on_trade_closed(config, state, MONDAY, "XAUUSD", 1.0, 10_001)
    assert state.open_positions == ("XAUUSD",)


# --- close rules, each on its own ----------------------------------------------------------

def test_daily_loss_stop_halts_until_the_next_utc_day() -> None:
    config = only(daily_loss_stop_pct=5.0)
    state, halts = run(config, [-200.0, -299.0])  # -4.99 %: not yet
    assert halts == []
    state, halts = trade(config, state, -1.0, MONDAY + timedelta(hours=3))  # -5.00 %
    assert [(h.rule, h.until) for h in halts] == [
        ("daily_loss_stop", datetime(2024, 3, 5, tzinfo=UTC))]
    assert "lost 5.00% today" in halts[0].reason
    assert not risk.check_entry(config, state, MONDAY + timedelta(hours=4), "XAUUSD").allowed
    tuesday = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)
    state = risk.refresh(config, state, tuesday, state.equity)
    assert risk.check_entry(config, state, tuesday, "XAUUSD").allowed
    assert (state.daily_pnl, state.day_start_equity) == (0.0, 9_500.0)


def test_daily_loss_counts_from_the_equity_at_the_start_of_the_day() -> None:
    config = only(daily_loss_stop_pct=5.0)
    state, _ = run(config, [1_000.0])  # Monday ends at 11,000
    tuesday = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
    state, halts = trade(config, state, -540.0, tuesday)  # 4.9 % of 11,000
    assert halts == []
    state, halts = trade(config, state, -10.0, tuesday + timedelta(hours=1))  # 5.0 %
    assert [h.rule for h in halts] == ["daily_loss_stop"]


def test_consecutive_losses_kill_switch_halts_for_good() -> None:
    config = only(max_consecutive_losses=5)
    state, halts = run(config, [-1.0, -1.0, 5.0, -1.0, -1.0, -1.0, -1.0])
    assert halts == []  # the win broke the streak
    state, halts = trade(config, state, 0.0, MONDAY + timedelta(hours=8))  # zero is a loss
    assert [(h.rule, h.until) for h in halts] == [("consecutive_losses", FOREVER)]
    assert halts[0].reason == "5 losing trades in a row (limit 5)"
    decision = risk.check_entry(config, state, MONDAY + timedelta(days=400), "XAUUSD")
    assert (decision.allowed, decision.rule) == (False, "consecutive_losses")


def test_profit_factor_kill_switch_waits_for_the_minimum_trades() -> None:
    config = only(min_profit_factor=1.0, kill_switch_window=6, kill_switch_min_trades=4)
    _, halts = run(config, [-3.0, 1.0, 1.0])  # PF 0.67 but only 3 trades
    assert halts == []
    _, halts = run(config, [-3.0, 1.0, 1.0, 0.5])  # PF 2.5 / 3 = 0.83 over 4 trades
    assert [h.rule for h in halts] == ["profit_factor"]
    assert halts[0].reason == "profit factor 0.83 over the last 4 trades (minimum 1)"
    _, halts = run(config, [-3.0, 1.0, 1.0, 1.0])  # exactly 1.0 is not below the minimum
    assert halts == []


def test_profit_factor_uses_the_rolling_window() -> None:
    config = only(min_profit_factor=1.0, kill_switch_window=4, kill_switch_min_trades=4)
    # Over all six trades PF = 21 / 12 = 1.75, but over the last four (5, 5, -12, 1) it is
    # 11 / 12: the window decides, at the sixth trade.
    state, halts = run(config, [5.0, 5.0, 5.0, 5.0, -12.0])
    assert halts == [] and state.recent == (5.0, 5.0, 5.0, -12.0)
    _, halts = trade(config, state, 1.0, MONDAY + timedelta(hours=6))
    assert [h.rule for h in halts] == ["profit_factor"]
    assert profit_factor.rolling_profit_factor((2.0, -1.0)) == 2.0
    assert profit_factor.rolling_profit_factor((2.0,)) == float("inf")
    assert profit_factor.rolling_profit_factor(()) == float("inf")


def test_win_rate_kill_switch() -> None:
    config = only(min_win_rate=0.35, kill_switch_window=20, kill_switch_min_trades=20)
    # 7 winners in 20 = 35 %: allowed; 6 in 20 = 30 %: halted.
    _, halts = run(config, [1.0] * 7 + [-1.0] * 13)
    assert halts == []
    _, halts = run(config, [1.0] * 6 + [-1.0] * 14)
    assert [h.rule for h in halts] == ["win_rate"]
    assert halts[0].reason == "win rate 30% over the last 20 trades (minimum 35%)"


def test_drawdown_kill_switch_measures_from_the_peak() -> None:
    config = only(max_drawdown_pct=15.0)
    _, halts = run(config, [2_000.0, -1_800.0])  # peak 12,000 -> 10,200: exactly 15 %
    assert halts == []
    _, halts = run(config, [2_000.0, -1_801.0])
    assert [h.rule for h in halts] == ["max_drawdown"]
    assert halts[0].reason == "drawdown 15.01% from the peak (limit 15%)"


def test_rules_are_modules_with_a_name() -> None:
    names = [m.RULE for m in (max_trades_per_day, one_position_per_symbol, daily_loss_stop,
                              consecutive_losses, profit_factor, win_rate, max_drawdown)]
    assert names == ["max_trades_per_day", "one_position_per_symbol", "daily_loss_stop",
                     "consecutive_losses", "profit_factor", "win_rate", "max_drawdown"]
    kill_switches = {"consecutive_losses", "profit_factor", "win_rate", "max_drawdown"}
    assert kill_switches == risk.KILL_SWITCH_RULES


# --- halts, cool-down, release -------------------------------------------------------------

def test_kill_switch_cooldown_lifts_and_starts_afresh() -> None:
    config = only(max_consecutive_losses=3, cooldown=timedelta(hours=12))
    state, halts = run(config, [-1.0, -1.0, -1.0])
    assert halts[0].until == MONDAY + timedelta(hours=2, minutes=30) + timedelta(hours=12)
    before = halts[0].until - timedelta(seconds=1)
    assert not risk.check_entry(config, state, before, "XAUUSD").allowed
    state = risk.refresh(config, state, halts[0].until, state.equity)
    assert risk.check_entry(config, state, halts[0].until, "XAUUSD").allowed
    assert (state.halted_until, state.loss_streak, state.recent) == (None, 0, ())
    assert state.equity_peak == state.equity


def test_expired_daily_stop_keeps_the_kill_switch_memory() -> None:
    config = only(daily_loss_stop_pct=1.0)
    state, halts = run(config, [-50.0, -60.0])
    assert [h.rule for h in halts] == ["daily_loss_stop"]
    state = risk.refresh(config, state, datetime(2024, 3, 5, tzinfo=UTC), state.equity)
    assert state.halted_until is None
    assert state.recent == (-50.0, -60.0) and state.loss_streak == 2


def test_concurrent_halts_keep_the_longest() -> None:
    config = only(daily_loss_stop_pct=1.0, max_consecutive_losses=1)
    state, halts = run(config, [-500.0])
    assert {h.rule for h in halts} == {"daily_loss_stop", "consecutive_losses"}
    assert (state.halt_rule, state.halted_until) == ("consecutive_losses", FOREVER)


def test_release_lifts_a_permanent_halt() -> None:
    config = only(max_consecutive_losses=1)
    state, _ = run(config, [-5.0])
    assert state.is_halted(MONDAY + timedelta(days=1))
    state = risk.release(state, 9_995)
    assert not state.is_halted(MONDAY + timedelta(days=1))
    assert risk.release(state, 9_995) is state


def test_decimal_money_is_accepted() -> None:
    config = RiskConfig()
    state = RiskState.start(Decimal("10000.00"))
    state = risk.on_trade_opened(config, state, MONDAY, "XAUUSD", Decimal("10000.00"))
    state, halts = risk.on_trade_closed(config, state, MONDAY, "XAUUSD", Decimal("-25.00"),
                                        Decimal("9975.00"))
    assert halts == [] and state.equity == 9975.0 and state.recent == (-25.0,)


def test_functions_never_mutate_the_state() -> None:
    config = RiskConfig()
    start = RiskState.start(10_000)
    snapshot = dataclasses.asdict(start)
    risk.on_trade_opened(config, start, MONDAY, "XAUUSD", 10_000)
    risk.on_trade_closed(config, start, MONDAY, "XAUUSD", -1.0, 9_999)
    assert dataclasses.asdict(start) == snapshot
    with pytest.raises(dataclasses.FrozenInstanceError):
        start.trades_today = 3  # type: ignore[misc]


def test_evolve_matches_dataclasses_replace() -> None:
    state = RiskState.start(10_000)
    changes = {"trades_today": 3, "recent": (1.0, -2.0), "halt_rule": "win_rate"}
    assert state.evolve(**changes) == dataclasses.replace(state, **changes)
    with pytest.raises(TypeError, match="no fields"):
        state.evolve(tardes_today=1)


def test_the_seed_defaults() -> None:
    config = RiskConfig()
    assert (config.max_trades_per_day, config.one_position_per_symbol,
            config.daily_loss_stop_pct, config.max_consecutive_losses,
            config.min_profit_factor, config.min_win_rate, config.max_drawdown_pct,
            config.cooldown) == (2, True, 5.0, 5, 1.0, 0.35, 15.0, None)


@pytest.mark.parametrize("bad", [
    {"max_trades_per_day": 0}, {"max_consecutive_losses": 1.5}, {"min_win_rate": 1.5},
    {"daily_loss_stop_pct": 0.0}, {"max_drawdown_pct": 101.0}, {"min_profit_factor": -1.0},
    {"kill_switch_window": 5, "kill_switch_min_trades": 6}, {"cooldown": timedelta(0)},
    {"max_trades_per_day": True},
])
def test_config_rejects_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        RiskConfig(**bad)


# --- sizing --------------------------------------------------------------------------------

@pytest.mark.parametrize(("equity", "pct", "distance", "expected"), [
    (10_000.0, 1.0, 2.0, 0.5),      # 100 USD at risk / (2.0 x 100 per lot)
    (10_000.0, 1.0, 3.0, 0.33),     # 0.3333 floored to the step
    (10_000.0, 0.01, 3.0, 0.0),     # 0.0033 lot: below the minimum, no trade
    (1e9, 1.0, 1.0, 100.0),         # capped at the maximum volume
    (0.0, 1.0, 1.0, 0.0),
    (10_000.0, 1.0, 0.0, 0.0),
])
def test_lots_for_risk(equity: float, pct: float, distance: float, expected: float) -> None:
    assert risk.lots_for_risk(equity, pct, distance, 100.0, 0.01, 0.01, 100.0) == expected


def test_lots_for_risk_rounds_like_round_volume() -> None:
    for raw_cents in range(1, 3000, 7):
        equity = raw_cents * 2.0  # 1 % at 2.0 x 100 per lot: raw lots = raw_cents / 10,000
        raw = equity * 1.0 / 100.0 / (2.0 * 100.0)
        assert risk.lots_for_risk(equity, 1.0, 2.0, 100.0, 0.01, 0.01, 100.0) == \
            risk.round_volume(raw, 0.01, 0.01, 100.0)
    assert risk.round_volume(0.2999, 0.01, 0.01, 100.0) == 0.29
    assert risk.round_volume(0.3 - 1e-12, 0.01, 0.01, 100.0) == 0.3  # float noise, not a step
