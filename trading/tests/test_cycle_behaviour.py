"""The cycle's position management, its weekend hand-over, the trade_cycle and replay
commands, and replay's refusals (paper accounts only, one replay or cycle at a time)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from trading.cycle.run import cycle_run
from trading.models import Order, Position, Signal, StrategySettings
from trading.tests import cyclekit

FRIDAY_CLOSE = datetime(2024, 3, 8, 22, tzinfo=UTC)     # the 21:00 bar, the week's last
REOPENING = datetime(2024, 3, 10, 22, tzinfo=UTC)       # Sunday's first bar opens


@pytest.fixture
def world(db, settings, tmp_path):
    cyclekit.fresh_estimators(settings, tmp_path)
    cyclekit.store_bars()
    return cyclekit.paper_account(), cyclekit.active_model()


def cycle(account, at):
    return cycle_run(account.pk, at=at, feature_set=cyclekit.FEATURES)


def test_a_position_is_closed_by_the_time_exit_after_max_bars_held(world):
    account, _model = world
    StrategySettings.objects.filter(account=account).update(
        max_bars_held=2, exit_on_opposite=False, sl_atr=50.0, tp_atr=50.0)
    first = cycle(account, cyclekit.AT)
    assert first.order_status == "filled", first.summary
    position = Position.objects.get(account=account)
    cycle(account, cyclekit.AT + timedelta(hours=1))
    assert Position.objects.get(pk=position.pk).status == "open"
    third = cycle(account, cyclekit.AT + timedelta(hours=2))
    position.refresh_from_db()
    assert position.status == "closed" and position.exit_time == cyclekit.AT + timedelta(hours=2)
    assert [a.action for a in third.actions if a.position_id == position.pk] == ["time"]
    assert position.close_orders.get().reason.startswith("time:")


def test_an_opposite_signal_closes_and_reverses(world):
    account, _model = world
    StrategySettings.objects.filter(account=account).update(sl_atr=50.0, tp_atr=50.0)
    at, sides = cyclekit.AT, []
    for _ in range(12):          # until the model changes its mind
        outcome = cycle(account, at)
        sides.append(outcome.decision)
        at += timedelta(hours=1)
        if any(a.action == "opposite_signal" for a in outcome.actions):
            break
    else:
        pytest.skip(f"the model never reversed in 12 bars: {sides}")
    closed = Position.objects.get(account=account, status="closed")
    opened = Position.objects.get(account=account, status="open")
    assert opened.side != closed.side and opened.entry_time == closed.exit_time


def test_the_last_bar_before_a_weekend_fills_at_the_reopening(world):
    account, _model = world
    friday = cycle(account, FRIDAY_CLOSE)
    assert friday.status == "deferred_market_closed"
    assert Order.objects.count() == 0 and Signal.objects.count() == 1
    sunday = cycle(account, REOPENING)
    assert sunday.signal_id == friday.signal_id
    assert sunday.bar_time == FRIDAY_CLOSE - timedelta(hours=1)
    if friday.decision != "HOLD":
        order = Order.objects.get()
        assert order.status == "filled" and order.signal_id == friday.signal_id
        assert Position.objects.get().entry_time == REOPENING
    again = cycle(account, REOPENING + timedelta(minutes=10))
    assert Order.objects.count() == (0 if friday.decision == "HOLD" else 1)
    assert again.signal_id == friday.signal_id


def test_trade_cycle_prints_the_outcome_as_json(world, monkeypatch):
    from mlops import pipeline

    account, model = world
    production = pipeline.feature_set_for_id
    monkeypatch.setattr(pipeline, "feature_set_for_id", lambda fid: cyclekit.FEATURES
                        if fid == cyclekit.FEATURES.id else production(fid))
    out = StringIO()
    call_command("trade_cycle", "--account", str(account.pk), "--at",
                 cyclekit.AT.isoformat(), "--dry-run", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["status"], data["model_id"], data["bar_time"]) == (
        "dry_run", model.pk, "2024-03-06T09:00:00+00:00")
    assert data["decision"] in ("BUY", "SELL", "HOLD") and "BUY" in data["probabilities"]
    assert Signal.objects.count() == 0
    out = StringIO()
    call_command("trade_cycle", "--account", str(account.pk), "--at",
                 cyclekit.AT.isoformat(), stdout=out)
    assert out.getvalue().startswith(f"account {account.pk} bar 2024-03-06 09:00: done")
    with pytest.raises(CommandError, match="--at"):
        call_command("trade_cycle", "--account", str(account.pk), "--at",
                     "2024-03-06T10:00:00")


def test_replay_refuses_a_live_account_and_a_second_run_on_one_account(world):
    from nusatrade.errors import DataError
    from trading.cycle.lock import account_lock
    from trading.cycle.replay import replay_run
    from trading.services import account_create

    account, _model = world
    live = account_create("trader", name="live", broker="mt5")
    with pytest.raises(DataError, match="not a paper account"):
        replay_run(live.pk, date(2024, 3, 4), 30)
    with account_lock(account.pk) as held:
        assert held.acquired
        with pytest.raises(DataError, match="another replay or cycle"):
            replay_run(account.pk, date(2024, 3, 4), 30)
    with pytest.raises(CommandError, match="days must be from 1"):
        call_command("replay", "--account", str(account.pk), "--start", "2024-03-04",
                     "--days", "0")
    assert Signal.objects.count() == 0


def test_an_engaged_kill_switch_blocks_the_cycles_order_and_a_release_lets_it_trade(world):
    from trading.services.killswitches import kill_switch_engage, kill_switch_release

    account, _model = world
    StrategySettings.objects.filter(account=account).update(threshold=0.5)
    engaged = kill_switch_engage("account", reason="drill", actor="tester",
                                 account_id=account.pk)
    at, blocked = cyclekit.AT, None
    for _ in range(6):
        outcome = cycle(account, at)
        at += timedelta(hours=1)
        if outcome.decision != "HOLD":
            blocked = outcome
            break
    assert blocked is not None, "no BUY/SELL in 6 bars"
    assert blocked.order_status == "refused" and blocked.order_id is None
    assert "entry refused by kill_switch" in Signal.objects.get(pk=blocked.signal_id).reason
    assert not Position.objects.filter(account=account).exists()
    assert not Order.objects.filter(account=account).exists()   # the broker was left alone
    assert cycle(account, at - timedelta(hours=1)).status == "already_processed"
    kill_switch_release(engaged.switch.pk, actor="tester", reason="drill over")
    for _ in range(6):
        outcome = cycle(account, at)
        at += timedelta(hours=1)
        if outcome.order_id:
            break
    assert outcome.order_status == "filled", outcome.summary


def test_a_late_rerun_of_a_bar_that_ended_without_an_entry_does_nothing(world):
    """A BUY/SELL bar skipped because a position was already open is finished: run again
    later (a redelivered or re-issued task), after that position closed, it places nothing."""
    from trading.services import paper_broker_at, position_close

    account, _model = world
    StrategySettings.objects.filter(account=account).update(
        sl_atr=50.0, tp_atr=50.0, exit_on_opposite=False)
    first = cycle(account, cyclekit.AT)
    assert first.order_status == "filled", first.summary
    at, skipped = cyclekit.AT, None
    for _ in range(12):
        at += timedelta(hours=1)
        outcome = cycle(account, at)
        if "no entry: a position is already open" in outcome.reason:
            skipped = (at, outcome.signal_id)
            break
    if skipped is None:
        pytest.skip("the model gave no second entry signal in 12 bars")
    at_skipped, signal_id = skipped
    assert "no entry: a position is already open" in Signal.objects.get(pk=signal_id).reason
    position = Position.objects.get(account=account, status="open")
    later = at + timedelta(hours=1)
    position_close(position.pk, broker=paper_broker_at(account, later))
    orders_before = Order.objects.count()
    rerun = cycle(account, at_skipped)
    assert rerun.status == "already_processed", rerun.summary
    assert Order.objects.count() == orders_before
