"""Reconciliation against BOTH brokers (the MT5 adapter on the simulator, the paper broker in
the database): every finding, its fix or its kill switch, and idempotency (a second run is
clean). Scenarios are played at the broker behind NusaTrade's back (reconcile_envs)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.audit import audit_list
from trading import pnl
from trading.brokers.base import DealEntry
from trading.models import (
    Deal,
    ExitReason,
    FindingKind,
    Instrument,
    ItemAction,
    KillSwitch,
    Order,
    OrderStatus,
    Position,
    PositionStatus,
    ReconciliationStatus,
)
from trading.reconciliation.selectors import reconciliation_last_success
from trading.tests.reconcile_envs import magic, make_env

pytestmark = pytest.mark.django_db
D = Decimal
BOTH = pytest.mark.parametrize("env", ["mt5", "paper"], indirect=True)


@pytest.fixture
def env(request, db):
    return make_env(request.param)


@pytest.fixture(autouse=True)
def old_enough(settings):
    """Stuck orders are looked up however young (the default leaves the last 2 minutes to
    their senders: test_a_young_in_flight_order_is_left_to_its_sender)."""
    settings.RECONCILE_ORDER_MIN_AGE_SECONDS = 0


@pytest.fixture(autouse=True)
def alerts(monkeypatch):
    """The alerts raised (their delivery is nusatrade/tests/test_alerts.py's subject)."""
    from trading.reconciliation import service
    from trading.services import killswitches

    raised: list[tuple[str, str]] = []

    def capture(kind, title, body="", **kwargs):
        raised.append((str(kind), title))

    monkeypatch.setattr(killswitches, "alert_send", capture)
    monkeypatch.setattr(service, "alert_send", capture)
    return raised


def kinds(run) -> list[tuple[str, str]]:
    return [(i.kind, i.action) for i in run.items.order_by("id")]


def assert_clean_second_run(env) -> None:
    again = env.reconcile()
    assert again.status == ReconciliationStatus.CLEAN
    assert [k for k in kinds(again) if k[0] != FindingKind.FOREIGN] == []


def assert_switch_engaged(env, alerts) -> KillSwitch:
    switch = KillSwitch.objects.get(engaged=True, scope="account", account=env.account)
    assert switch.rule == "reconciliation" and switch.engaged_by == "system:reconciliation"
    assert ("reconciliation_mismatch", f"Reconciliation mismatch on account {env.account.pk}"
            ) in alerts
    assert ("kill_switch_engaged", f"Kill switch engaged: account {env.account.pk}") in alerts
    [entry] = audit_list(target=switch)
    assert entry.action == "kill_switch.engage"
    return switch


@BOTH
def test_an_account_in_agreement_records_a_clean_run(env, alerts):
    order = env.place(sl=env.sl)
    assert order.status == OrderStatus.FILLED
    run = env.reconcile(triggered_by="test")
    assert run.status == ReconciliationStatus.CLEAN and run.triggered_by == "test"
    assert (run.db_open_positions, run.broker_positions, run.findings) == (1, 1, 0)
    assert run.finished_at is not None and run.error == ""
    assert reconciliation_last_success(env.account.pk) == run.finished_at
    assert alerts == [] and not KillSwitch.objects.exists()


@BOTH
def test_our_position_missing_in_the_database_is_adopted_from_broker_facts(env):
    ticket = env.open_at_broker("SELL", "0.03", magic=magic(), client_id="NTlostanswer01")
    run = env.reconcile()
    assert run.status == ReconciliationStatus.FIXED
    assert kinds(run) == [(FindingKind.ADOPTED, ItemAction.FIXED)]
    [at_broker] = [p for p in env.broker().positions() if p.ticket == ticket]
    position = Position.objects.get(broker_ticket=ticket)
    assert (position.side, position.volume, position.entry_price, position.status) == (
        "SELL", D("0.03"), at_broker.price_open, PositionStatus.OPEN)
    assert position.entry_time == at_broker.time and position.account == env.account
    deal = Deal.objects.get(position=position)
    assert deal.entry == DealEntry.IN and deal.client_id == "NTlostanswer01"
    assert run.items.get().position == position
    assert_clean_second_run(env)


@BOTH
def test_an_adopted_position_is_linked_to_the_order_that_opened_it(env):
    """An order cancelled as 'not found' whose fill surfaced later: adopted onto that order."""
    order = env.place(key="late")
    position = Position.objects.get(opening_order=order)
    Deal.objects.filter(position=position).delete()
    ticket = position.broker_ticket
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
    position.delete()
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.ADOPTED, ItemAction.FIXED)]
    adopted = Position.objects.get(broker_ticket=ticket)
    assert adopted.opening_order_id == order.pk


@BOTH
def test_a_position_of_another_magic_is_reported_and_never_touched(env, alerts):
    ticket = env.open_at_broker("BUY", "0.05", magic=0, client_id="by hand")
    before = [p for p in env.broker().positions() if p.ticket == ticket]
    run = env.reconcile()
    assert run.status == ReconciliationStatus.CLEAN
    assert kinds(run) == [(FindingKind.FOREIGN, ItemAction.REPORTED)]
    item = run.items.get()
    assert item.severity == "info" and item.broker_ticket == ticket and item.found["magic"] == 0
    assert not Position.objects.exists() and not Deal.objects.exists()
    assert [p for p in env.broker().positions() if p.ticket == ticket] == before
    assert alerts == [] and not KillSwitch.objects.exists()
    assert env.reconcile().status == ReconciliationStatus.CLEAN


@BOTH
def test_a_position_closed_at_the_broker_gets_its_closing_deal_imported(env):
    order = env.place()
    position = Position.objects.get(opening_order=order)
    env.close_at_broker(position.broker_ticket)
    run = env.reconcile()
    assert run.status == ReconciliationStatus.FIXED
    assert kinds(run) == [(FindingKind.CLOSED_AT_BROKER, ItemAction.FIXED)]
    position.refresh_from_db()
    [out] = [d for d in env.broker().deals(position.entry_time.replace(year=2000),
                                           position.entry_time.replace(year=2100))
             if d.position_ticket == position.broker_ticket and d.entry == DealEntry.OUT]
    assert position.status == PositionStatus.CLOSED and position.exit_price == out.price
    spec = env.broker().symbol_info("XAUUSD")
    gross = pnl.profit(1, position.volume, position.entry_price, out.price, spec)
    assert position.gross_pnl == gross == out.profit
    assert position.net_pnl == pnl.to_cents(gross - position.commission + position.swap)
    assert Deal.objects.filter(position=position, entry="out").count() == 1
    assert_clean_second_run(env)


@BOTH
def test_a_stop_loss_hit_while_we_were_down_closes_the_position_with_its_pnl(env):
    order = env.place(sl=env.sl)
    position = Position.objects.get(opening_order=order)
    env.later(env.sl_hit_at)                   # hours pass; nobody looks; the stop fires
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.CLOSED_AT_BROKER, ItemAction.FIXED)]
    position.refresh_from_db()
    assert position.status == PositionStatus.CLOSED
    assert position.exit_reason == ExitReason.STOP_LOSS
    assert position.exit_time <= env.sl_hit_at and position.net_pnl < 0
    spec = env.broker().symbol_info("XAUUSD")
    assert position.gross_pnl == pnl.profit(1, position.volume, position.entry_price,
                                            position.exit_price, spec)
    assert_clean_second_run(env)


@BOTH
def test_a_partial_close_at_the_broker_engages_the_account_kill_switch(env, alerts):
    order = env.place(volume="0.04")
    position = Position.objects.get(opening_order=order)
    env.close_at_broker(position.broker_ticket, volume="0.01")
    run = env.reconcile()
    assert run.status == ReconciliationStatus.MISMATCH and run.unsafe == 1
    assert kinds(run) == [(FindingKind.VOLUME, ItemAction.KILL_SWITCH)]
    item = run.items.get()
    assert (item.expected["volume"], item.found["volume"]) == ("0.04", "0.03")
    switch = assert_switch_engaged(env, alerts)
    assert run.kill_switch == switch and f"run {run.pk}" in switch.reason
    position.refresh_from_db()
    assert position.status == PositionStatus.OPEN and position.volume == D("0.04")
    blocked = env.place(key="after")
    assert blocked.status == OrderStatus.REJECTED and "reconciliation" in blocked.error


@BOTH
def test_a_second_run_on_an_unfixable_mismatch_keeps_the_one_switch(env, alerts):
    order = env.place(volume="0.04")
    env.close_at_broker(Position.objects.get(opening_order=order).broker_ticket, volume="0.02")
    first, second = env.reconcile(), env.reconcile()
    assert first.status == second.status == ReconciliationStatus.MISMATCH
    assert KillSwitch.objects.count() == 1 and second.kill_switch == first.kill_switch
    assert len([a for a in alerts if a[0] == "kill_switch_engaged"]) == 1


@BOTH
def test_a_position_missing_at_the_broker_without_a_closing_deal_is_unsafe(env, alerts):
    order = env.place()
    real = Position.objects.get(opening_order=order)
    ghost = Position.objects.create(
        account=env.account, symbol="XAUUSD", side="BUY", volume=D("0.01"),
        broker_ticket=987654321, entry_price=real.entry_price, entry_time=real.entry_time)
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.MISSING_AT_BROKER, ItemAction.KILL_SWITCH)]
    assert run.items.get().position == ghost
    ghost.refresh_from_db()
    assert ghost.status == PositionStatus.OPEN      # nothing invented: a person must look
    assert_switch_engaged(env, alerts)


@BOTH
def test_sl_tp_moved_at_the_broker_are_recorded(env):
    order = env.place(sl=env.sl)
    position = Position.objects.get(opening_order=order)
    new_sl = str(D(env.sl) - D("1.00"))
    new_tp = str(position.entry_price + D("20.00"))
    env.modify_at_broker(position.broker_ticket, new_sl, new_tp)
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.SL_TP, ItemAction.FIXED)]
    position.refresh_from_db()
    assert (position.sl, position.tp) == (D(new_sl), D(new_tp))
    assert_clean_second_run(env)


@BOTH
def test_a_stop_loss_removed_at_the_broker_is_unsafe(env, alerts):
    order = env.place(sl=env.sl)
    position = Position.objects.get(opening_order=order)
    env.modify_at_broker(position.broker_ticket, None, None)
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.SL_TP, ItemAction.KILL_SWITCH)]
    assert run.items.get().severity == "critical"
    position.refresh_from_db()
    assert position.sl == D(env.sl)
    assert_switch_engaged(env, alerts)


@BOTH
def test_an_entry_price_that_differs_takes_the_brokers_fill_price(env):
    order = env.place()
    position = Position.objects.get(opening_order=order)
    broker_price = position.entry_price
    Position.objects.filter(pk=position.pk).update(entry_price=broker_price + D("0.50"))
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.PRICE, ItemAction.FIXED)]
    position.refresh_from_db()
    assert position.entry_price == broker_price
    assert_clean_second_run(env)


def test_floating_pnl_beyond_the_tolerance_is_unsafe(db, alerts):
    """MT5 only: the paper broker prices with our own Instrument rows, so it cannot disagree."""
    env = make_env("mt5")
    env.place()
    env.sim.move_quote("XAUUSD", 500)          # the price moved 5.00: floating P/L +10.00
    # Our contract facts say a tick is worth twice what the broker pays: our P/L is wrong.
    Instrument.objects.filter(symbol="XAUUSD").update(tick_value=D("2"))
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.PNL, ItemAction.KILL_SWITCH)]
    item = run.items.get()
    assert "contract facts" in item.message
    assert (item.expected["pnl"], item.found["profit"]) == ("20.00", "10.00")
    assert_switch_engaged(env, alerts)


def test_floating_pnl_within_the_tolerance_is_no_finding(db, settings):
    settings.RECONCILE_PNL_TOLERANCE = "0.50"
    env = make_env("mt5")
    env.place()
    env.sim.move_quote("XAUUSD", 500)
    Instrument.objects.filter(symbol="XAUUSD").update(tick_value=D("1.02"))   # 10.20 vs 10.00
    assert env.reconcile().status == ReconciliationStatus.CLEAN


@BOTH
def test_a_closed_positions_gross_pnl_that_differs_is_unsafe(env, alerts):
    order = env.place()
    position = Position.objects.get(opening_order=order)
    env.close_at_broker(position.broker_ticket)
    env.reconcile()
    position.refresh_from_db()
    Position.objects.filter(pk=position.pk).update(gross_pnl=position.gross_pnl + D("5.00"),
                                                   net_pnl=position.net_pnl + D("5.00"))
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.PNL, ItemAction.KILL_SWITCH)]
    assert_switch_engaged(env, alerts)


@BOTH
def test_missing_costs_of_a_closed_position_are_taken_from_the_brokers_deals(env):
    order = env.place()
    position = Position.objects.get(opening_order=order)
    env.close_at_broker(position.broker_ticket)
    env.reconcile()
    position.refresh_from_db()
    right = (position.commission, position.swap, position.net_pnl)
    Position.objects.filter(pk=position.pk).update(swap=D("7.00"),
                                                   net_pnl=position.net_pnl + D("7.00"))
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.COSTS, ItemAction.FIXED)]
    position.refresh_from_db()
    assert (position.commission, position.swap, position.net_pnl) == right
    assert_clean_second_run(env)


@BOTH
def test_a_position_closed_here_but_open_at_the_broker_is_unsafe(env, alerts):
    order = env.place()
    position = Position.objects.get(opening_order=order)
    Position.objects.filter(pk=position.pk).update(
        status=PositionStatus.CLOSED, exit_price=position.entry_price,
        exit_time=position.entry_time, net_pnl=D("0"), exit_reason=ExitReason.OTHER)
    run = env.reconcile()
    assert (FindingKind.CLOSED_HERE, ItemAction.KILL_SWITCH) in kinds(run)
    assert_switch_engaged(env, alerts)


@BOTH
@pytest.mark.parametrize("left", [OrderStatus.SENT, OrderStatus.UNKNOWN])
def test_an_order_left_in_flight_and_filled_at_the_broker_is_recorded_once(env, left):
    """The sender died (sent) or got no answer (unknown) after the broker filled it: resolved
    by client id, recorded once, not adopted as a second position."""
    order = env.place(key="crash")
    position = Position.objects.get(opening_order=order)
    Deal.objects.filter(position=position).delete()
    position.delete()
    Order.objects.filter(pk=order.pk).update(status=left, completed_at=None)
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.ORDER_STUCK, ItemAction.FIXED)]
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert Position.objects.filter(account=env.account).count() == 1
    assert Position.objects.get().opening_order == order
    assert_clean_second_run(env)


@BOTH
def test_a_close_order_left_sent_after_the_broker_closed_is_recorded_as_our_close(env):
    """position_close crashed after the broker closed the position: the close order is
    resolved by client id and the position closed by it (exit reason: closed by us)."""
    from trading.services import position_close

    position = Position.objects.get(opening_order=env.place(key="to-close"))
    close = position_close(position.pk, broker=env.broker()).order
    assert close.status == OrderStatus.FILLED
    Order.objects.filter(pk=close.pk).update(status=OrderStatus.SENT, completed_at=None)
    Position.objects.filter(pk=position.pk).update(
        status=PositionStatus.OPEN, exit_price=None, exit_time=None, exit_reason="",
        gross_pnl=None, net_pnl=None)
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.ORDER_STUCK, ItemAction.FIXED)]
    close.refresh_from_db()
    position.refresh_from_db()
    assert close.status == OrderStatus.FILLED and position.status == PositionStatus.CLOSED
    assert position.exit_reason == ExitReason.CLOSED and position.exit_price == close.fill_price
    assert_clean_second_run(env)


@BOTH
def test_a_pending_order_never_sent_is_cancelled_not_sent(env):
    order = env.place(key="never")
    Position.objects.filter(opening_order=order).update(opening_order=None)
    pending = Order.objects.create(
        account=env.account, idempotency_key="never-sent", client_id="NTneversent0001",
        magic=magic(), symbol="XAUUSD", side="BUY", volume=D("0.01"))
    positions_before = len(env.broker().positions())
    run = env.reconcile()
    assert (FindingKind.ORDER_STUCK, ItemAction.FIXED) in kinds(run)
    pending.refresh_from_db()
    assert pending.status == OrderStatus.CANCELLED and "not resent" in pending.error
    assert len(env.broker().positions()) == positions_before


@BOTH
def test_a_young_in_flight_order_is_left_to_its_sender(env, settings):
    """An order sent seconds ago may be in its sender's hands: neither resolved nor adopted."""
    settings.RECONCILE_ORDER_MIN_AGE_SECONDS = 120
    order = env.place(key="young")
    position = Position.objects.get(opening_order=order)
    Deal.objects.filter(position=position).delete()
    position.delete()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SENT, completed_at=None)
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.ORDER_IN_FLIGHT, ItemAction.REPORTED)]
    order.refresh_from_db()
    assert order.status == OrderStatus.SENT and not Position.objects.exists()


@BOTH
def test_a_busy_account_lock_records_a_skipped_run_and_changes_nothing(env):
    from trading.cycle.lock import AccountLock

    env.open_at_broker("SELL", "0.01", magic=magic(), client_id="NTadoptlater01")
    lock = AccountLock(env.account.pk)
    assert lock.acquire()
    try:
        run = env.reconcile()
    finally:
        lock.release()
    assert run.status == ReconciliationStatus.SKIPPED and "lock" in run.error
    assert not Position.objects.exists() and run.findings == 0
    assert reconciliation_last_success(env.account.pk) is None


def test_a_partial_fill_is_recorded_as_such_and_is_no_mismatch(db):
    """MT5 only: the paper broker fills in full."""
    env = make_env("mt5")
    env.sim.queue_fault("partial", fraction=Decimal("0.5"))
    order = env.place(volume="0.04")
    assert order.status == OrderStatus.PARTIALLY_FILLED and order.filled_volume == D("0.02")
    run = env.reconcile()
    assert run.status == ReconciliationStatus.CLEAN and run.findings == 0
    assert Position.objects.get().volume == D("0.02")


@pytest.mark.parametrize("function", ["positions_get", "history_deals_get"])
def test_broker_down_fails_the_run_clearly_and_changes_nothing(db, function, alerts):
    env = make_env("mt5")
    order = env.place()
    ticket = Position.objects.get(opening_order=order).broker_ticket
    env.close_at_broker(ticket)                            # a fix would be due...
    stuck = Order.objects.create(
        account=env.account, idempotency_key="stuck", client_id="NTstuck000001",
        magic=magic(), symbol="XAUUSD", side="BUY", volume=D("0.01"))
    env.sim.fail_next(function, times=20)                  # ...but the broker does not answer
    run = env.reconcile()
    assert run.status == ReconciliationStatus.FAILED and "BrokerError" in run.error
    assert run.findings == 0 and run.finished_at is not None
    assert Position.objects.get(broker_ticket=ticket).status == PositionStatus.OPEN
    stuck.refresh_from_db()
    assert stuck.status == OrderStatus.PENDING
    assert not KillSwitch.objects.exists() and alerts == []
    assert reconciliation_last_success(env.account.pk) is None



def test_an_unknown_answer_for_an_order_that_never_executed_ends_cancelled(db):
    """MT5 only (fault injection): no answer, and the broker has no trace of the order: the run
    cancels it (never resends). The executed case: the in-flight test above."""
    from trading.brokers import retcodes

    env = make_env("mt5")
    env.sim.queue_fault("timeout", answer=retcodes.TIMEOUT, executed=False)
    order = env.place(key="lost")
    assert order.status == OrderStatus.UNKNOWN
    run = env.reconcile()
    assert kinds(run) == [(FindingKind.ORDER_STUCK, ItemAction.FIXED)]
    assert run.items.get().found == {"status": "cancelled"}
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and env.sim.executed_orders == 0
    assert not Position.objects.exists()
    assert_clean_second_run(env)


def test_a_broker_lost_while_orders_are_looked_up_fails_the_run(db, alerts):
    """The broker answered the first reads, then stopped (the look-up of a stuck order): the
    run is failed, says why, and the order stays as it was for the next run."""
    from nusatrade.errors import TemporaryBrokerError

    env = make_env("mt5")
    real = env.broker()

    class LostMidRun:
        def __getattr__(self, name):
            return getattr(real, name)

        def find_order(self, *args, **kwargs):
            raise TemporaryBrokerError("IPC timeout")

    stuck = Order.objects.create(
        account=env.account, idempotency_key="stuck-mid", client_id="NTstuckmid0001",
        magic=magic(), symbol="XAUUSD", side="BUY", volume=D("0.01"))
    env._broker = LostMidRun()
    run = env.reconcile()
    assert run.status == ReconciliationStatus.FAILED and "stopped answering" in run.error
    item = run.items.get()
    assert item.order == stuck and "IPC timeout" in item.message
    stuck.refresh_from_db()
    assert stuck.status == OrderStatus.PENDING and not KillSwitch.objects.exists()
