"""The order path's edges on the real paper broker: RELIABILITY 12 and 13 input by input (the
broker never sees them), RELIABILITY 18 (paper by default, MT5 only when configured), and the
admin of the order rows (behind two-factor login, read-only)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import TradingAccount
from accounts.services import totp_device_create, user_create
from accounts.tests.test_admin_otp import current_token, login
from nusatrade.errors import ConfigurationError
from trading.brokers import broker_for
from trading.brokers.paper import PaperBroker
from trading.models import KillSwitch, Order, OrderStatus, Position
from trading.paper.models import PaperDeal, PaperOrder
from trading.services import manual_key, order_place, paper_broker_at, position_close
from trading.tests.mt5_helpers import make
from trading.tests.orderpaths import AT, paper_account, store_bars

pytestmark = [pytest.mark.django_db, pytest.mark.services("postgres")]


@pytest.fixture
def paper():
    store_bars()
    account = paper_account()
    return account, paper_broker_at(account, AT)


def place(account, broker, key, **fields):
    request = {"symbol": "XAUUSD", "side": "BUY", "volume": "0.01", **fields}
    return order_place(account.pk, idempotency_key=manual_key(account.pk, key), broker=broker,
                       **request).order


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"volume": "0"}, "volume", "greater than zero"),
    ({"volume": "-0.01"}, "volume", "greater than zero"),
    ({"volume": "0.015"}, "volume", "volume step"),
    ({"volume": "101"}, "volume", "above the maximum"),
    ({"volume": "1e9"}, "volume", "above the maximum"),
    ({"volume": "NaN"}, "volume", "finite"),
    ({"volume": "lots"}, "volume", "not a number"),
    ({"symbol": ""}, "symbol", "required"),
    ({"symbol": "DOGEUSD"}, "symbol", "not a symbol this broker trades"),
    ({"sl": "9999"}, "sl", "wrong side"),
    ({"tp": "1"}, "tp", "wrong side"),
    ({"side": "SELL", "sl": "1"}, "sl", "wrong side"),
])
def test_bad_input_is_refused_by_field_and_never_reaches_the_broker(paper, fields, field,
                                                                    message):
    """RELIABILITY 12 and 13: a clear refusal naming the field; only the rejected intent is
    stored (status rejected, nothing filled); the paper broker has no order at all."""
    account, broker = paper
    order = place(account, broker, "bad", **fields)
    assert order.status == OrderStatus.REJECTED and order.attempts == 0
    assert f"{field}: " in order.error and message in order.error
    assert PaperOrder.objects.count() == 0 and PaperDeal.objects.count() == 0
    assert Position.objects.count() == 0 and Order.objects.count() == 1


def test_inside_the_stops_level_is_refused_before_the_mt5_adapter(account):
    """RELIABILITY 13 with a broker that has a stops level (50 points on this symbol)."""
    from dataclasses import replace

    from trading.brokers.mt5sim import XAUUSD_SPEC

    sim, broker, _ = make(spec=replace(XAUUSD_SPEC, stops_level=50))
    order = place(account, broker, "close-sl", volume="0.10", sl="2349.80")
    assert order.status == OrderStatus.REJECTED and "inside the stops level" in order.error
    assert sim.requests == [] and sim.executed_orders == 0


def test_a_kill_switch_refuses_new_orders_but_never_traps_a_position(paper):
    account, broker = paper
    place(account, broker, "k1")
    KillSwitch.objects.create(scope="account", account=account, reason="drill",
                              engaged_by="ops")
    refused = place(account, broker, "k2", symbol="EURUSD")
    assert refused.status == OrderStatus.REJECTED and "kill switch" in refused.error
    closed = position_close(Position.objects.get().pk, broker=broker).order
    assert closed.status == OrderStatus.FILLED      # closing is always allowed
    assert PaperDeal.objects.filter(entry="in").count() == 1


def test_paper_is_the_default_and_mt5_needs_the_deployment_to_say_so(db, settings):
    """RELIABILITY 18 on the order path: an MT5 account on a deployment without MT5 is a
    ConfigurationError before anything is stored or sent, never a silent paper fallback."""
    account = paper_account()
    assert account.broker == "paper" and isinstance(broker_for(account), PaperBroker)
    settings.MT5_ENABLED = False
    mt5 = TradingAccount.objects.create(owner=account.owner, name="live", broker="mt5",
                                        broker_login="5001", broker_server="Demo",
                                        password_env_var="MT5_PASSWORD_TEST")
    with pytest.raises(ConfigurationError, match="MT5_ENABLED is off"):
        order_place(mt5.pk, idempotency_key=manual_key(mt5.pk, "x"), symbol="XAUUSD",
                    side="BUY", volume="0.01")
    assert not Order.objects.filter(account=mt5).exists()


def test_order_admin_is_two_factor_and_read_only(paper):
    account, broker = paper
    order = place(account, broker, "admin-1")
    position = Position.objects.get()
    user = user_create("ops1", "correct-horse-battery-staple-42", staff=True, superuser=True)
    device = totp_device_create(user).device
    client = Client()
    assert client.get("/admin/trading/order/").status_code == 302     # not logged in
    login(client, current_token(device), device=device)
    pages = ["/admin/trading/order/", f"/admin/trading/order/{order.pk}/change/",
             "/admin/trading/position/", f"/admin/trading/position/{position.pk}/change/",
             "/admin/trading/deal/", "/admin/trading/signal/", "/admin/trading/killswitch/",
             "/admin/trading/riskpolicy/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
    text = client.get(f"/admin/trading/order/{order.pk}/change/").content.decode()
    assert order.client_id in text and 'name="_save"' not in text      # view only
    assert client.get("/admin/trading/order/add/").status_code == 403
