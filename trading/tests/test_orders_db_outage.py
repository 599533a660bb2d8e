"""Acceptance, RELIABILITY 7: the database unreachable at the start of the order path or right
after a fill, on real PostgreSQL with the MT5 simulator as the broker.

The outage is real: the Django connection is pointed at a closed loopback port (nothing is
stopped), so every query fails the way a lost database fails (OperationalError).
"""

from __future__ import annotations

import contextlib
import socket

import pytest
from django.db import OperationalError, connection

from trading.models import Order, OrderStatus, Position
from trading.services import manual_key, order_place, order_recover
from trading.tests.conftest import make_account
from trading.tests.mt5_helpers import make

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services("postgres")]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]     # released on exit: nothing listens there


@contextlib.contextmanager
def database_down():
    settings = connection.settings_dict
    saved = (settings["HOST"], settings["PORT"])
    connection.close()
    settings["HOST"], settings["PORT"] = "127.0.0.1", str(closed_port())
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            connection.close()
        settings["HOST"], settings["PORT"] = saved


class DatabaseDiesAfterTheFill:
    """The broker answers, then the database becomes unreachable before the answer is
    recorded (the outage starts between the broker call and transaction 3)."""

    def __init__(self, broker, outage) -> None:
        self._broker = broker
        self._outage = outage

    def __getattr__(self, name):
        return getattr(self._broker, name)

    def place_market_order(self, order):
        outcome = self._broker.place_market_order(order)
        self._outage.__enter__()
        return outcome


def test_nothing_is_sent_without_a_committed_intent():
    account = make_account()
    sim, broker, _ = make()
    with database_down(), pytest.raises(OperationalError):
        order_place(account.pk, idempotency_key=manual_key(account.pk, "down-1"),
                    symbol="XAUUSD", side="BUY", volume="0.10", broker=broker)
    assert sim.executed_orders == 0 and sim.requests == []
    assert Order.objects.count() == 0


def test_recovery_adopts_the_fill_the_database_missed():
    account = make_account()
    sim, broker, _ = make()
    outage = database_down()
    key = manual_key(account.pk, "down-2")
    try:
        with pytest.raises(OperationalError):
            order_place(account.pk, idempotency_key=key, symbol="XAUUSD", side="BUY",
                        volume="0.10", broker=DatabaseDiesAfterTheFill(broker, outage))
    finally:
        outage.__exit__(None, None, None)
    order = Order.objects.get(idempotency_key=key)
    assert order.status == OrderStatus.SENT and sim.executed_orders == 1   # filled, unrecorded
    assert Position.objects.count() == 0
    report = order_recover(account.pk, broker=broker)
    order.refresh_from_db()
    [at_broker] = broker.positions()
    assert report.resolved == [(order.pk, "filled")] and order.status == OrderStatus.FILLED
    position = Position.objects.get()
    assert position.broker_ticket == at_broker.ticket and position.opening_order == order
    # The retried request (same key) adopts too; never a second broker order.
    again = order_place(account.pk, idempotency_key=key, symbol="XAUUSD", side="BUY",
                        volume="0.10", broker=broker)
    assert again.order.pk == order.pk and sim.executed_orders == 1
