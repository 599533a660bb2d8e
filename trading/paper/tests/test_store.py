"""The paper account in PostgreSQL: its book is rows, survives restarts, and concurrent callers
never lose a balance update (SELECT ... FOR UPDATE on the PaperAccount row)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import TradingAccount, User
from marketdata.services import bars_upsert
from tests.helpers import ROOT
from trading import pnl
from trading.brokers import broker_for
from trading.brokers.base import DealEntry, DealReason, MarketOrder, OrderSide, OrderState
from trading.brokers.paper import ManualClock
from trading.paper.models import PaperAccount, PaperDeal, PaperOrder, PaperPosition
from trading.tests.paper_scenarios import bars

D = Decimal
pytestmark = pytest.mark.services("postgres")

GOLD = bars("2024-03-04", "2024-03-09", 2350.0, {
    "2024-03-05 11:00": (2350.00, 2352.50, 2349.00, 2352.50),
})
GOLD.loc[GOLD.index >= "2024-03-05 12:00", ["open", "high", "low", "close"]] = 2352.50


def make_account(name: str = "paper", **fields) -> TradingAccount:
    owner, _ = User.objects.get_or_create(username="paper-owner")
    return TradingAccount.objects.create(owner=owner, name=name, **fields)


def buy(volume: str = "0.10", client_id: str = "NTdb", sl: str | None = None) -> MarketOrder:
    return MarketOrder(symbol="XAUUSD", side=OrderSide.BUY, volume=D(volume),
                       client_id=client_id, magic=42, sl=None if sl is None else D(sl))


@pytest.mark.django_db
def test_open_and_close_a_market_position_on_a_persisted_account():
    bars_upsert("XAUUSD", "H1", GOLD, synthetic=True)
    account = make_account(initial_balance=D("5000.00"), leverage=200)
    clock = ManualClock("2024-03-05 10:15")
    opened = broker_for(account, clock=clock).place_market_order(buy(sl="2340.00"))
    assert opened.state is OrderState.FILLED and opened.price == D("2350.40"), opened.message
    paper = PaperAccount.objects.get(account=account)
    assert (paper.balance, paper.leverage, paper.spread_pips, paper.slippage_pips) == (
        D("5000.00"), 200, D("3"), D("1"))
    row = PaperPosition.objects.get(paper_account=paper, ticket=opened.position_ticket)
    assert (row.status, row.volume, row.price_open, row.sl, row.magic, row.client_id) == (
        "open", D("0.1000"), D("2350.40"), D("2340.00"), 42, "NTdb")

    clock.set("2024-03-05 12:20")
    restarted = broker_for(TradingAccount.objects.get(pk=account.pk), clock=clock)
    [position] = restarted.positions()
    assert position.ticket == opened.position_ticket and position.profit == D("21.00")
    closed = restarted.close_position(position.ticket, client_id="NTdbclose", magic=42)
    assert closed.state is OrderState.FILLED and closed.price == D("2352.40")

    paper.refresh_from_db()
    assert paper.balance == D("5020.00")
    row.refresh_from_db()
    assert (row.status, row.price_close, row.close_reason) == ("closed", D("2352.40"), "expert")
    out = PaperDeal.objects.get(paper_account=paper, entry=DealEntry.OUT)
    assert out.profit == pnl.profit(1, D("0.10"), D("2350.40"), D("2352.40"),
                                    restarted.symbol_info("XAUUSD")) == D("20.00")
    assert PaperOrder.objects.filter(paper_account=paper, state="filled").count() == 2
    assert restarted.positions() == []


@pytest.mark.django_db
def test_history_and_find_order_read_the_rows():
    bars_upsert("XAUUSD", "H1", GOLD, synthetic=True)
    account = make_account()
    clock = ManualClock("2024-03-05 10:15")
    opened = broker_for(account, clock=clock).place_market_order(buy(client_id="NTfind"))
    broker = broker_for(account, clock=clock)
    since = clock() - timedelta(hours=1)
    found = broker.find_order("NTfind", 42, since)
    assert found is not None and found.position_ticket == opened.position_ticket
    assert found.price == D("2350.40")
    [deal] = broker.deals(since, clock() + timedelta(hours=1))
    assert (deal.reason, deal.client_id, deal.magic) == (DealReason.EXPERT, "NTfind", 42)
    assert broker.find_order("NTother", 42, since) is None


@pytest.mark.django_db
def test_a_refused_order_is_kept_as_rejected_with_nothing_else_stored():
    bars_upsert("XAUUSD", "H1", GOLD, synthetic=True)
    account = make_account()
    broker = broker_for(account, clock=ManualClock("2024-03-05 10:15"))
    outcome = broker.place_market_order(buy(volume="1e9"))
    assert outcome.state is OrderState.REJECTED and outcome.retcode == 10014
    paper = PaperAccount.objects.get(account=account)
    assert list(PaperOrder.objects.filter(paper_account=paper).values_list("state", flat=True)) \
        == ["rejected"]
    assert not PaperDeal.objects.exists() and not PaperPosition.objects.exists()
    assert paper.balance == D("10000.00")


def _trade_in_thread(account_id: int, rounds: int, errors: list[BaseException],
                     start: threading.Barrier) -> None:
    try:
        account = TradingAccount.objects.get(pk=account_id)
        clock = ManualClock("2024-03-05 12:20")
        broker = broker_for(account, clock=clock)
        start.wait(timeout=30)
        for _ in range(rounds):
            opened = broker.place_market_order(buy(volume="0.01"))
            assert opened.state is OrderState.FILLED, opened.message
            closed = broker.close_position(opened.position_ticket, client_id="NTc", magic=42)
            assert closed.state is OrderState.FILLED, closed.message
    except BaseException as exc:  # reported by the test
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_never_lose_a_balance_update():
    """4 threads (4 database connections) x 10 round trips on one account at once. Each round
    trip loses exactly spread + slippage x 2 (0.50 x 100 x 0.01 = 0.50): a lost update would
    leave the balance higher than 10000 - 40 x 0.50."""
    bars_upsert("XAUUSD", "H1", GOLD, synthetic=True)
    account = make_account()
    broker_for(account)   # creates the paper book before the race
    threads, rounds, errors = 4, 10, []
    start = threading.Barrier(threads)
    workers = [threading.Thread(target=_trade_in_thread, args=(account.pk, rounds, errors, start))
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    paper = PaperAccount.objects.get(account=account)
    trips = threads * rounds
    assert paper.balance == D("10000.00") - trips * D("0.50")
    outs = PaperDeal.objects.filter(paper_account=paper, entry=DealEntry.OUT)
    assert outs.count() == trips
    tickets = list(PaperDeal.objects.filter(paper_account=paper).values_list("ticket", flat=True))
    assert len(tickets) == len(set(tickets)) == 2 * trips
    assert PaperPosition.objects.filter(paper_account=paper, status="closed").count() == trips
    assert paper.next_ticket == 4 * trips + 1


WORKER = """
import os, sys, time
from pathlib import Path
import django
django.setup()
from decimal import Decimal
from accounts.models import TradingAccount
from trading.brokers import broker_for
from trading.brokers.base import MarketOrder, OrderSide, OrderState
from trading.brokers.paper import ManualClock

account_id, rounds, go = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
broker = broker_for(TradingAccount.objects.get(pk=account_id),
                    clock=ManualClock("2024-03-05 12:20"))
Path(str(go) + f".{os.getpid()}").touch()
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
for i in range(rounds):
    order = MarketOrder("XAUUSD", OrderSide.BUY, Decimal("0.01"), f"NT{os.getpid()}x{i}", 42)
    opened = broker.place_market_order(order)
    assert opened.state is OrderState.FILLED, opened.message
    closed = broker.close_position(opened.position_ticket, client_id="NTc", magic=42)
    assert closed.state is OrderState.FILLED, closed.message
"""


@pytest.mark.django_db(transaction=True)
def test_concurrent_processes_never_lose_a_balance_update(tmp_path):
    """The same with 3 OS processes (each its own Django and database connection), started
    together by a go-file once all are ready."""
    bars_upsert("XAUUSD", "H1", GOLD, synthetic=True)
    account = make_account()
    broker_for(account)
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "nusatrade.settings",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/"
                           f"{db['NAME']}"}
    processes, rounds, go = 3, 8, tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(account.pk), str(rounds),
                                 str(go)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
               for _ in range(processes)]
    deadline = time.monotonic() + 90
    while len(list(tmp_path.glob("go.*"))) < processes and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    outputs = [w.communicate(timeout=180)[0] for w in workers]
    assert [w.returncode for w in workers] == [0] * processes, outputs
    paper = PaperAccount.objects.get(account=account)
    trips = processes * rounds
    assert paper.balance == D("10000.00") - trips * D("0.50")
    assert PaperDeal.objects.filter(paper_account=paper, entry=DealEntry.OUT).count() == trips
    assert paper.next_ticket == 4 * trips + 1
