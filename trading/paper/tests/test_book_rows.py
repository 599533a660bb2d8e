"""What the paper broker's own closes (SL/TP, stop-out) and hand-opened positions leave in the
database, and the read-only admin of those rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django_otp.oath import TOTP

from accounts.models import Role, TradingAccount, User
from accounts.services import totp_device_create, user_create
from marketdata.services import bars_upsert
from trading.brokers import broker_for
from trading.brokers.base import MarketOrder, OrderSide, OrderState
from trading.brokers.paper import ManualClock
from trading.paper.models import PaperAccount, PaperDeal, PaperPosition
from trading.paper.services import paper_account_ensure
from trading.tests.paper_scenarios import bars

D = Decimal
pytestmark = [pytest.mark.services("postgres"), pytest.mark.django_db]
PASSWORD = "correct-horse-battery-staple-42"

CRASH = bars("2024-03-04", "2024-03-09", 2350.0,
             {"2024-03-05 11:00": (2350.00, 2350.00, 2300.00, 2300.00)})
CRASH.loc[CRASH.index > "2024-03-05 11:00", ["open", "high", "low", "close"]] = 2300.00


def account(**fields) -> TradingAccount:
    owner, _ = User.objects.get_or_create(username="rows-owner")
    return TradingAccount.objects.create(owner=owner, name="rows", **fields)


def order(side: OrderSide, volume: str, sl: str | None = None) -> MarketOrder:
    return MarketOrder(symbol="XAUUSD", side=side, volume=D(volume), client_id="NTrows",
                       magic=9, sl=None if sl is None else D(sl))


def test_a_stop_loss_hit_while_nobody_asked_is_booked_at_the_next_call():
    bars_upsert("XAUUSD", "H1", CRASH, synthetic=True)
    acct = account()
    clock = ManualClock("2024-03-05 10:15")
    opened = broker_for(acct, clock=clock).place_market_order(order(OrderSide.BUY, "0.10",
                                                                    sl="2340.00"))
    clock.set("2024-03-06 09:00")     # a restart a day later
    broker = broker_for(TradingAccount.objects.get(pk=acct.pk), clock=clock)
    assert broker.positions() == []
    row = PaperPosition.objects.get(ticket=opened.position_ticket)
    assert (row.status, row.close_reason, row.price_close) == ("closed", "stop_loss",
                                                               D("2339.90"))
    out = PaperDeal.objects.get(position_ticket=opened.position_ticket, entry="out")
    assert (out.reason, out.profit, out.client_id, out.magic) == ("stop_loss", D("-105.00"),
                                                                  "[sl 2340.00]", 9)
    paper = PaperAccount.objects.get(account=acct)
    assert paper.balance == D("9895.00")
    assert paper.last_bar.isoformat() == "2024-03-06T08:00:00+00:00"


def test_stop_out_rows_and_a_hand_position_with_its_own_magic():
    bars_upsert("XAUUSD", "H1", CRASH, synthetic=True)
    acct = account(initial_balance=D("1040.00"))
    clock = ManualClock("2024-03-05 10:15")
    broker = broker_for(acct, clock=clock)
    ours = broker.place_market_order(order(OrderSide.BUY, "0.20"))
    hand = broker.open_by_hand("XAUUSD", OrderSide.SELL, D("0.05"), comment="by hand")
    assert ours.state is hand.state is OrderState.FILLED
    clock.set("2024-03-05 12:05")
    [left] = broker_for(acct, clock=clock).positions()
    assert (left.ticket, left.magic, left.client_id) == (hand.position_ticket, 0, "by hand")
    closed = PaperPosition.objects.get(ticket=ours.position_ticket)
    assert (closed.status, closed.close_reason) == ("closed", "stop_out")
    assert PaperDeal.objects.get(position_ticket=hand.position_ticket).reason == "client"
    assert PaperAccount.objects.get(account=acct).balance == D("30.00")


def test_paper_account_settings_come_from_the_account_and_stick():
    acct = account(initial_balance=D("2500.00"), currency="EUR", leverage=30)
    paper = paper_account_ensure(acct, commission_per_lot=D("7"), spread_pips=D("2"))
    assert (paper.balance, paper.currency, paper.leverage) == (D("2500.00"), "EUR", 30)
    assert (paper.commission_per_lot, paper.spread_pips, paper.stop_out_level) == (
        D("7"), D("2"), D("50"))
    assert paper_account_ensure(acct).pk == paper.pk    # created once
    info = broker_for(acct, clock=ManualClock("2024-03-05 10:15")).account_info()
    assert (info.balance, info.currency, info.leverage, info.margin_level) == (
        D("2500.00"), "EUR", 30, None)


@pytest.fixture
def ops() -> Client:
    user = user_create("paper-ops", PASSWORD, roles=(Role.OPS,), staff=True, superuser=True)
    device = totp_device_create(user).device
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {
        "username": "paper-ops", "password": PASSWORD, "otp_device": device.persistent_id,
        "otp_token": f"{totp.token():0{device.digits}d}"})
    assert response.status_code == 302
    return client


def test_the_admin_shows_the_book_read_only(ops):
    bars_upsert("XAUUSD", "H1", CRASH, synthetic=True)
    acct = account()
    opened = broker_for(acct, clock=ManualClock("2024-03-05 10:15")).place_market_order(
        order(OrderSide.BUY, "0.10"))
    for model in ("paperaccount", "paperposition", "paperdeal", "paperorder"):
        page = ops.get(f"/admin/paper/{model}/")
        assert page.status_code == 200, model
        assert b"NTrows" in page.content or model == "paperaccount"
        assert ops.get(f"/admin/paper/{model}/add/").status_code == 403
    row = PaperPosition.objects.get(ticket=opened.position_ticket)
    page = ops.get(f"/admin/paper/paperposition/{row.pk}/change/")
    assert page.status_code == 200 and b"2350.40" in page.content
    assert b'name="_save"' not in page.content
