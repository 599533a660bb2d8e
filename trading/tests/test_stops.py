"""Automatic stops (``trading.services.stops``) tripped by scripted paper trades on PostgreSQL:
each rule engages the account's kill switch right after the close that trips it, the next
order is refused, a release lets trading resume, the daily-loss stop lifts itself at the next
UTC day, and repeated critical errors engage it too (and reach Sentry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.audit import audit_list
from trading.models import KillSwitch, Order, Position, RiskPolicy, TradingError
from trading.services import manual_key, order_place, paper_broker_at, position_close
from trading.services.killswitches import (
    engaged_for,
    kill_switch_release,
    kill_switches_expire,
)
from trading.services.stops import stops_enforce, trading_error_record
from trading.tests.orderpaths import AT, paper_account, store_bars

pytestmark = [pytest.mark.django_db, pytest.mark.services("postgres")]

# Every rule off but the one a test is about (thresholds come from the account's RiskPolicy).
OFF = {"max_trades_per_day": None, "daily_loss_stop_pct": None, "max_consecutive_losses": None,
       "min_profit_factor": None, "min_win_rate_pct": None, "max_drawdown_pct": None}


@pytest.fixture
def bars():
    return store_bars()


def account_with(**policy):
    account = paper_account()
    RiskPolicy.objects.filter(account=account).update(**{**OFF, **policy})
    return account


def trade(account, n: int, *, volume: str = "0.01", side: str = "BUY", hold: int = 0,
          start: datetime = AT) -> Position:
    """Open at ``start`` + n hours and close ``hold`` hours later (hold 0: a loss of the
    costs, spread, slippage and commission). Returns the closed position."""
    opened = start + timedelta(hours=n)
    order = order_place(account.pk, idempotency_key=manual_key(account.pk, f"t{n}-{start:%d}"),
                        symbol="XAUUSD", side=side, volume=volume,
                        broker=paper_broker_at(account, opened)).order
    assert order.status == "filled", order.error
    position = Position.objects.get(opening_order=order)
    position_close(position.pk, broker=paper_broker_at(account, opened + timedelta(hours=hold)))
    position.refresh_from_db()
    assert position.status == "closed"
    return position


def winning_trade(account, bars, n: int, *, volume: str) -> Position:
    """A trade on the side the stored bars moved over 3 hours (bigger than the costs)."""
    opened = AT + timedelta(hours=n)
    move = (bars.loc[opened.replace(minute=0) + timedelta(hours=3), "open"]
            - bars.loc[opened.replace(minute=0), "open"])
    assert abs(move) > 1.0, "the synthetic series must move more than the costs here"
    position = trade(account, n, volume=volume, side="BUY" if move > 0 else "SELL", hold=3)
    assert position.net_pnl > 0
    return position


def next_order(account, key: str, at: datetime = AT + timedelta(hours=12)) -> Order:
    return order_place(account.pk, idempotency_key=manual_key(account.pk, key), symbol="XAUUSD",
                       side="BUY", volume="0.01", broker=paper_broker_at(account, at)).order


def assert_blocks_the_next_order(account, switch: KillSwitch) -> None:
    order = next_order(account, "after-stop")
    assert order.status == "rejected"
    assert f"kill switch engaged (account): {switch.reason}" in order.error


def test_five_losses_in_a_row_engage_the_account_switch_and_block_the_next_order(bars):
    account = account_with(max_consecutive_losses=5)
    for n in range(4):
        assert trade(account, n).net_pnl < 0
    assert engaged_for("account", account_id=account.pk) is None
    trade(account, 4)
    switch = engaged_for("account", account_id=account.pk)
    assert switch.rule == "consecutive_losses" and switch.engaged_by == "system:risk"
    assert switch.reason.startswith("consecutive_losses: 5 losing trades in a row (limit 5)")
    assert switch.release_at is None    # a kill-switch rule holds until someone releases it
    [entry] = audit_list(target=switch)
    assert (entry.actor, entry.action) == ("system:risk", "kill_switch.engage")
    assert_blocks_the_next_order(account, switch)


def test_a_released_stop_lets_trading_resume_and_judges_only_later_trades(bars):
    account = account_with(max_consecutive_losses=5)
    for n in range(5):
        trade(account, n)
    switch = engaged_for("account", account_id=account.pk)
    kill_switch_release(switch.pk, actor="admin", reason="reviewed the model")
    switch.refresh_from_db()
    assert switch.reset_after == Position.objects.order_by("-exit_time").first().exit_time
    assert next_order(account, "resumed").status == "filled"
    assert stops_enforce(account.pk, now=AT + timedelta(hours=12)) == []
    position_close(Position.objects.get(status="open").pk,
                   broker=paper_broker_at(account, AT + timedelta(hours=12)))
    assert engaged_for("account", account_id=account.pk) is None   # a streak of 1, not 6
    for n in range(13, 17):
        trade(account, n)
    assert engaged_for("account", account_id=account.pk).rule == "consecutive_losses"


def test_daily_loss_stop_engages_until_the_next_utc_day_then_lifts_itself(bars):
    account = account_with(daily_loss_stop_pct=Decimal("0.8"))
    first = trade(account, 0, volume="1.00")
    loss_pct = -first.net_pnl / account.initial_balance * 100
    assert loss_pct == Decimal("0.5")   # 1 lot: 3 pips spread + 2 x 1 pip slippage
    assert engaged_for("account", account_id=account.pk) is None
    trade(account, 1, volume="1.00")
    switch = engaged_for("account", account_id=account.pk)
    assert switch.rule == "daily_loss_stop" and "today (limit 0.8%)" in switch.reason
    midnight = datetime(2026, 11, 26, tzinfo=UTC)   # the rule's day: UTC, like the backtester
    assert switch.release_at == midnight
    assert_blocks_the_next_order(account, switch)
    assert kill_switches_expire(midnight - timedelta(seconds=1)) == []
    [released] = kill_switches_expire(midnight)
    assert released.pk == switch.pk and released.released_by == "system:schedule"
    tomorrow = AT + timedelta(days=1)
    assert stops_enforce(account.pk, now=tomorrow) == []
    assert next_order(account, "next-day", at=tomorrow).status == "filled"


def test_profit_factor_below_one_over_the_window_engages(bars):
    account = account_with(min_profit_factor=Decimal("1.0"), kill_switch_window=3,
                           kill_switch_min_trades=3)
    winning_trade(account, bars, 0, volume="0.01")
    trade(account, 4, volume="1.00")
    assert engaged_for("account", account_id=account.pk) is None   # 2 trades: under minimum
    trade(account, 5, volume="1.00")
    switch = engaged_for("account", account_id=account.pk)
    assert switch.rule == "profit_factor" and "over the last 3 trades (minimum 1)" in switch.reason
    assert_blocks_the_next_order(account, switch)


def test_win_rate_under_35_percent_engages_even_when_profitable(bars):
    account = account_with(min_win_rate_pct=Decimal("35"), kill_switch_window=3,
                           kill_switch_min_trades=3)
    winning_trade(account, bars, 0, volume="1.00")
    trade(account, 4)
    trade(account, 5)
    assert Position.objects.filter(account=account).count() == 3
    switch = engaged_for("account", account_id=account.pk)
    assert switch.rule == "win_rate" and "win rate 33% over the last 3 trades" in switch.reason
    assert_blocks_the_next_order(account, switch)


def test_drawdown_beyond_the_limit_engages(bars):
    account = account_with(max_drawdown_pct=Decimal("0.8"))
    trade(account, 0, volume="1.00")
    assert engaged_for("account", account_id=account.pk) is None
    trade(account, 1, volume="1.00")
    switch = engaged_for("account", account_id=account.pk)
    assert switch.rule == "max_drawdown" and "from the peak (limit 0.8%)" in switch.reason
    assert_blocks_the_next_order(account, switch)


def test_two_rules_at_once_the_latched_one_names_the_switch(bars):
    account = account_with(daily_loss_stop_pct=Decimal("0.8"), max_drawdown_pct=Decimal("0.8"))
    trade(account, 0, volume="1.00")
    trade(account, 1, volume="1.00")
    switch = engaged_for("account", account_id=account.pk)
    assert switch.rule == "max_drawdown" and switch.release_at is None
    assert "also daily_loss_stop: lost" in switch.reason


def test_an_already_engaged_account_keeps_its_switch(bars):
    account = account_with(max_consecutive_losses=1)
    from trading.services.killswitches import kill_switch_engage

    order = next_order(account, "open", at=AT)
    manual = kill_switch_engage("account", account_id=account.pk, reason="drill",
                                actor="ops").switch
    position = Position.objects.get(opening_order=order)
    assert position_close(position.pk, broker=paper_broker_at(account, AT)).order.status \
        == "filled"    # closing is never blocked; the losing close trips the rule
    assert stops_enforce(account.pk, now=AT + timedelta(hours=1)) == []
    assert list(KillSwitch.objects.filter(engaged=True)) == [manual]


@pytest.fixture
def sentry_events():
    """The real Sentry SDK with a transport that keeps the events (no network)."""
    import sentry_sdk
    from sentry_sdk.transport import Transport

    events: list[dict] = []

    class Keep(Transport):
        def capture_envelope(self, envelope) -> None:
            events.extend(item.payload.json for item in envelope.items if item.type == "event")

    sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", transport=Keep,
                    default_integrations=False)
    yield events
    sentry_sdk.init()   # back to no DSN: a no-op client


def test_repeated_critical_errors_engage_and_reach_sentry(bars, settings, sentry_events):
    settings.KILL_SWITCH_ERRORS_MAX = 3
    settings.KILL_SWITCH_ERRORS_WINDOW_MINUTES = 10
    account = paper_account()
    at = AT
    trading_error_record(account.pk, where="cycle", error=RuntimeError("old"),
                         now=at - timedelta(minutes=11))   # outside the window
    assert trading_error_record(account.pk, where="cycle", error=RuntimeError("a"), now=at) is None
    assert trading_error_record(account.pk, where="cycle", error="b",
                                now=at + timedelta(minutes=1)) is None
    assert engaged_for("account", account_id=account.pk) is None and sentry_events == []
    switch = trading_error_record(account.pk, where="order", error=ValueError("boom"),
                                  now=at + timedelta(minutes=2))
    assert switch is not None and switch.rule == "critical_errors"
    assert switch.reason.startswith("3 critical errors in the trading path within 10 minutes")
    assert "last in order: ValueError: boom" in switch.reason
    assert TradingError.objects.filter(account=account).count() == 4
    [event] = sentry_events
    assert f"kill switch engaged on account {account.pk}" in event["message"]
    assert_blocks_the_next_order(account, switch)
    kill_switch_release(switch.pk, actor="admin", reason="fixed the bug")
    # The errors before the release no longer count; new ones do.
    assert trading_error_record(account.pk, where="cycle", error="c",
                                now=at + timedelta(minutes=3)) is None


def test_errors_of_one_account_do_not_stop_another(bars, settings):
    settings.KILL_SWITCH_ERRORS_MAX = 2
    one, other = paper_account(), paper_account(name="paper 2")
    trading_error_record(one.pk, where="cycle", error="x", now=AT)
    trading_error_record(other.pk, where="cycle", error="y", now=AT)
    assert KillSwitch.objects.count() == 0
    trading_error_record(one.pk, where="cycle", error="z", now=AT)
    assert [s.account_id for s in KillSwitch.objects.all()] == [one.pk]


def test_an_unknown_account_is_named():
    from nusatrade.errors import DataError

    with pytest.raises(DataError, match="no trading account 999999"):
        stops_enforce(999999, now=AT)


def test_a_paper_stop_loss_imported_by_sync_trips_the_stop(bars):
    from trading import pnl
    from trading.services import positions_sync

    account = account_with(max_consecutive_losses=1)
    spec = paper_broker_at(account, AT).symbol_info("XAUUSD")
    bid = spec.round_price(pnl.to_decimal(float(bars.loc[AT.replace(minute=0), "open"])))
    sl = bid - Decimal("3.00")
    order_place(account.pk, idempotency_key=manual_key(account.pk, "sl"), symbol="XAUUSD",
                side="BUY", volume="0.10", sl=str(sl), broker=paper_broker_at(account, AT))
    later = bars[bars.index > AT]
    hit = later[later["low"] <= float(sl)]
    assert len(hit), "the synthetic series must cross the stop for this test"
    report = positions_sync(account.pk, broker=paper_broker_at(
        account, hit.index[0].to_pydatetime() + timedelta(hours=1, minutes=1)))
    assert len(report.closed) == 1
    assert Position.objects.get().exit_reason == "stop_loss"
    switch = engaged_for("account", account_id=account.pk)
    assert switch.rule == "consecutive_losses"
