"""/metrics shows the trading facts read from the database: orders by status, open exposure,
engaged kill switches."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from trading.models import Order, Position
from trading.services.killswitches import kill_switch_engage

pytestmark = pytest.mark.django_db


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(response.content.decode())
            for s in f.samples}


def _order(account, n: int, status: str) -> Order:
    return Order.objects.create(account=account, idempotency_key=f"k{n}", client_id=f"c{n}",
                                magic=1, symbol="XAUUSD", side="BUY", volume=Decimal("0.10"),
                                status=status)


def _position(account, side: str, volume: str, status: str = "open") -> Position:
    now = timezone.now()
    closed = {"exit_time": now, "exit_price": Decimal("2351"),
                                      "net_pnl": Decimal("500")} if status == "closed" else {}
    return Position.objects.create(account=account, symbol="XAUUSD", side=side,
                                   volume=Decimal(volume), entry_price=Decimal("2350"),
                                   entry_time=now, status=status, **closed)


def test_orders_by_status_lists_every_status(client, account):
    for n, status in enumerate(["filled", "filled", "rejected", "unknown"]):
        _order(account, n, status)
    samples = scrape(client)

    def orders(status):
        return samples[("nusatrade_orders", frozenset({"status": status}.items()))]

    assert (orders("filled"), orders("rejected"), orders("unknown"), orders("pending")) == \
        (2, 1, 1, 0)


def test_open_exposure_sums_open_positions_by_side(client, account):
    _position(account, "BUY", "0.10")
    _position(account, "BUY", "0.25")
    _position(account, "SELL", "0.01")
    _position(account, "BUY", "5.00", status="closed")  # closed: no exposure
    samples = scrape(client)
    buy = frozenset({"symbol": "XAUUSD", "side": "BUY"}.items())
    sell = frozenset({"symbol": "XAUUSD", "side": "SELL"}.items())
    assert samples[("nusatrade_open_exposure_lots", buy)] == pytest.approx(0.35)
    assert samples[("nusatrade_open_exposure_lots", sell)] == pytest.approx(0.01)
    assert samples[("nusatrade_open_positions", buy)] == 2


def test_engaged_kill_switches_by_scope(client, account, settings):
    settings.ALERT_EMAILS, settings.ALERT_WEBHOOK_URL = [], ""
    kill_switch_engage("account", account_id=account.pk, reason="drill", actor="ops")
    kill_switch_engage("global", reason="outage", actor="ops")
    samples = scrape(client)

    def engaged(scope):
        return samples[("nusatrade_kill_switches_engaged", frozenset({"scope": scope}.items()))]

    assert (engaged("global"), engaged("account"), engaged("model")) == (1, 1, 0)
