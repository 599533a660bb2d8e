"""Acceptance: the order path on the REAL MT5Broker driving the MT5 simulator with injected
faults, on real PostgreSQL. Every fault ends with no duplicate order, no lost position and the
Order row in the right final state (RELIABILITY 4, 5, 6, 13, 18).
"""

from __future__ import annotations

import logging
import sys
from decimal import Decimal

import pytest

from trading import pnl
from trading.brokers import retcodes
from trading.brokers.mt5sim import XAUUSD_SPEC
from trading.models import Deal, ExitReason, Order, OrderStatus, Position, PositionStatus
from trading.services import manual_key, order_place, order_recover, positions_sync
from trading.tests.mt5_helpers import PASSWORD, make

pytestmark = [pytest.mark.django_db, pytest.mark.services("postgres")]


def place(account, broker, key="m1", **fields):
    request = {"symbol": "XAUUSD", "side": "BUY", "volume": "0.10", **fields}
    return order_place(account.pk, idempotency_key=manual_key(account.pk, key), broker=broker,
                       **request)


def our_broker_orders(sim) -> int:
    return sim.executed_orders


def test_a_clean_fill_records_what_the_broker_did(account):
    sim, broker, _ = make(spread=25)
    order = place(account, broker, sl="2340.00", tp="2370.00").order
    assert order.status == OrderStatus.FILLED and order.retcode == retcodes.DONE
    [at_broker] = broker.positions()
    position = Position.objects.get()
    assert (position.broker_ticket, position.entry_price, position.volume) == (
        at_broker.ticket, at_broker.price_open, at_broker.volume)
    assert at_broker.client_id == order.client_id and at_broker.magic == order.magic
    assert Deal.objects.get().broker_ticket == order.broker_deal_ticket
    assert our_broker_orders(sim) == 1


def test_timeout_after_accept_is_found_by_client_id_not_resent(account):
    """RELIABILITY 4: the order filled but the answer was lost (None / IPC timeout)."""
    sim, broker, _ = make()
    sim.queue_fault("timeout")               # executes, answers None
    order = place(account, broker).order
    assert order.status == OrderStatus.FILLED and our_broker_orders(sim) == 1
    assert Position.objects.get().broker_ticket == broker.positions()[0].ticket
    assert place(account, broker).order.pk == order.pk and our_broker_orders(sim) == 1


@pytest.mark.parametrize("answer", [retcodes.TIMEOUT, retcodes.CONNECTION, retcodes.ERROR])
def test_unknown_answer_for_a_filled_order_ends_filled(account, answer):
    sim, broker, _ = make()
    sim.queue_fault("timeout", answer=answer)
    order = place(account, broker).order
    order_recover(account.pk, broker=broker)
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED and our_broker_orders(sim) == 1
    assert Position.objects.count() == 1


def test_unknown_answer_for_an_order_that_never_executed_is_cancelled(account):
    sim, broker, _ = make()
    sim.queue_fault("timeout", answer=retcodes.TIMEOUT, executed=False)
    order = place(account, broker).order
    assert order.status == OrderStatus.UNKNOWN
    order_recover(account.pk, broker=broker)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and "not resent" in order.error
    assert our_broker_orders(sim) == 0 and Position.objects.count() == 0


def test_disconnect_before_the_send_loses_nothing_and_sends_nothing_twice(account):
    sim, broker, _ = make()
    sim.queue_fault("disconnect")
    order = place(account, broker).order
    order_recover(account.pk, broker=broker)
    order.refresh_from_db()
    executed = our_broker_orders(sim)
    assert executed <= 1
    # Whatever the adapter could tell, the row ends final and agrees with the broker.
    expected = OrderStatus.FILLED if executed else OrderStatus.CANCELLED
    assert order.status == expected and Position.objects.count() == executed
    assert len(broker.positions()) == executed


@pytest.mark.parametrize("kind", ["requote", "price_changed", "off_quotes"])
def test_reprice_codes_retry_with_a_fresh_price_then_fill(account, kind, caplog):
    """RELIABILITY 5: bounded retries with backoff, each logged with its retcode."""
    sim, broker, waits = make()
    sim.queue_fault(kind, times=2, shift_points=30)
    with caplog.at_level(logging.INFO):
        order = place(account, broker).order
    code = str({"requote": 10004, "price_changed": 10020, "off_quotes": 10021}[kind])
    assert order.status == OrderStatus.FILLED and order.attempts == 3
    assert order.error.count(code) == 2              # the retry log kept on the order
    assert len(waits) == 2 and waits[1] > waits[0]   # backoff grows
    assert our_broker_orders(sim) == 1 and Position.objects.count() == 1


@pytest.mark.parametrize("answer", [retcodes.INVALID_VOLUME, retcodes.INVALID_STOPS,
                                    retcodes.MARKET_CLOSED, retcodes.NO_MONEY,
                                    retcodes.INVALID_FILL])
def test_terminal_codes_reject_without_retry(account, answer):
    """RELIABILITY 6: no retry, code and reason visible on the Order."""
    sim, broker, waits = make()
    sim.queue_fault("reject", answer=answer)
    order = place(account, broker).order
    assert order.status == OrderStatus.REJECTED and order.retcode == answer
    assert retcodes.meaning(answer) in order.retcode_text and order.attempts == 1
    assert waits == [] and our_broker_orders(sim) == 0
    sends = [r for r in sim.requests if r.get("action") == 1]
    assert len(sends) <= 2                              # order_check + one order_send
    assert place(account, broker).order.attempts == 1    # the same key: no retry loop


def test_partial_fill_records_the_filled_volume(account):
    sim, broker, _ = make()
    sim.queue_fault("partial", fraction=Decimal("0.5"))
    order = place(account, broker, volume="0.20").order
    assert order.status == OrderStatus.PARTIALLY_FILLED
    assert order.filled_volume == Decimal("0.10") == Position.objects.get().volume
    assert broker.positions()[0].volume == Decimal("0.10") and our_broker_orders(sim) == 1


def test_position_closed_by_stop_loss_while_we_were_down(account):
    bars = ["2350.00", "2350.00", "2338.00", "2338.00", "2338.00"]
    sim, broker, _ = make(bars, wiggle="0.50")
    place(account, broker, sl="2340.00")
    position = Position.objects.get()
    sim.set_time("2024-03-05 14:30")            # the SL bar passed while nobody looked
    assert broker.positions() == []
    report = positions_sync(account.pk, broker=broker)
    position.refresh_from_db()
    assert report.closed == [position.pk] and position.status == PositionStatus.CLOSED
    assert position.exit_reason == ExitReason.STOP_LOSS
    expected = pnl.profit(1, position.volume, position.entry_price, position.exit_price,
                          XAUUSD_SPEC)
    assert position.gross_pnl == expected < 0
    out = Deal.objects.get(entry="out")
    assert out.reason == "stop_loss" and position.net_pnl == pnl.to_cents(
        expected - position.commission + position.swap)


def test_a_position_opened_by_hand_is_never_touched(account):
    sim, broker, _ = make()
    ticket = sim.open_by_hand("XAUUSD", "SELL", "0.30")
    place(account, broker)
    positions_sync(account.pk, broker=broker)
    order_recover(account.pk, broker=broker)
    assert not Position.objects.filter(broker_ticket=ticket).exists()
    assert ticket in [p.ticket for p in broker.positions()]
    assert Position.objects.count() == 1 and our_broker_orders(sim) == 1


def test_bad_stops_and_unknown_symbol_never_reach_the_broker(account):
    """RELIABILITY 13 against the MT5 adapter: refused before anything is sent."""
    sim, broker, _ = make()
    for key, fields in (("w1", {"sl": "2351.00"}), ("w2", {"tp": "2340.00"}),
                        ("w3", {"symbol": "BTCXYZ"}), ("w4", {"volume": "1e9"})):
        order = place(account, broker, key=key, **fields).order
        assert order.status == OrderStatus.REJECTED and order.attempts == 0, fields
    assert sim.requests == [] and our_broker_orders(sim) == 0


def test_mt5_path_never_imports_metatrader5_nor_leaks_the_password(account, caplog, client):
    """RELIABILITY 18 on the order path."""
    sim, broker, _ = make()
    sim.queue_fault("timeout", answer=retcodes.TIMEOUT, executed=False)
    with caplog.at_level(logging.DEBUG):
        place(account, broker)
        order_recover(account.pk, broker=broker)
        place(account, broker, key="m2")
    assert "MetaTrader5" not in sys.modules
    assert PASSWORD not in caplog.text
    for order in Order.objects.all():
        assert PASSWORD not in f"{order.request} {order.error} {order.retcode_text}"
