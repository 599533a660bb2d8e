"""Acceptance on the REAL paper broker (persisted in PostgreSQL), real processes and a real
Celery worker on Redis: RELIABILITY 3 and 10, eight processes racing for one decision, the
outbox under a SIGKILL, and money to the cent against ``trading/pnl.py``.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from celery import group

from trading import fills, pnl
from trading.brokers.base import OrderSide, client_id_for
from trading.models import Deal, ExitReason, Order, OrderStatus, Position, PositionStatus
from trading.paper.models import PaperAccount, PaperDeal
from trading.services import (
    decision_key,
    manual_key,
    order_place,
    paper_broker_at,
    position_close,
    positions_sync,
)
from trading.tasks import place_order
from trading.tests.orderpaths import (
    AT,
    BAR,
    ROOT,
    buy_signal,
    ml_model,
    paper_account,
    placer_command,
    release_when_ready,
    store_bars,
    subprocess_env,
)

pytestmark = pytest.mark.django_db(transaction=True)


def broker_orders(client_id: str) -> int:
    """Orders the paper broker executed for ``client_id`` (its opening deals)."""
    return PaperDeal.objects.filter(client_id=client_id, entry="in").count()


def open_bid(bars, when, spec) -> Decimal:
    """The bid the paper broker quotes at ``when``: the open of the H1 bar holding it."""
    return spec.round_price(pnl.to_decimal(float(bars.loc[when.replace(minute=0), "open"])))


@pytest.mark.services("postgres")
def test_eight_processes_placing_one_decision_make_one_order(tmp_path):
    store_bars()
    account = paper_account()
    signal = buy_signal(account, ml_model())
    procs = [subprocess.Popen(placer_command(signal.pk, tmp_path), cwd=ROOT,
                              env=subprocess_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    release_when_ready(tmp_path, 8)      # all eight call order_place at the same instant
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    order = Order.objects.get()
    assert order.idempotency_key == decision_key(account.pk, signal.model_id, BAR)
    assert {r["order"] for r in results} == {order.pk}
    assert sum(r["created"] for r in results) == 1 and sum(r["sent"] for r in results) == 1
    assert order.status == OrderStatus.FILLED and order.attempts == 1
    assert broker_orders(order.client_id) == 1 and Position.objects.count() == 1


@pytest.mark.services("celery")
def test_fifty_tasks_for_one_decision_on_a_real_worker_make_one_order(celery_worker_process):
    """RELIABILITY 10: 50 identical signals enqueued at once; the rest end as no-ops."""
    store_bars()
    account = paper_account()
    signal = buy_signal(account, ml_model())
    job = group(place_order.s(signal.pk, at=AT.isoformat()).set(queue=celery_worker_process)
                for _ in range(50))
    results = job.apply_async().get(timeout=240)
    order = Order.objects.get()
    assert [r["order"] for r in results] == [order.pk] * 50
    assert sum(r["sent"] for r in results) == 1 and sum(r["created"] for r in results) == 1
    assert order.status == OrderStatus.FILLED and broker_orders(order.client_id) == 1
    assert Position.objects.count() == 1 == Deal.objects.count()


@pytest.mark.services("celery")
def test_killed_after_the_broker_accepted_then_redelivered(celery_worker_process):
    """RELIABILITY 3: SIGKILL between the broker's answer and the DB commit; the redelivered
    task finds the broker's order by client id: one broker order, one Order row."""
    store_bars()
    account = paper_account()
    signal = buy_signal(account, ml_model())
    proc = subprocess.run(placer_command(signal.pk, mode="kill"), cwd=ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    order = Order.objects.get()
    assert order.status == OrderStatus.SENT and broker_orders(order.client_id) == 1
    assert Position.objects.count() == 0                  # the fill was never recorded
    result = place_order.apply_async((signal.pk,), {"at": AT.isoformat()},
                                     queue=celery_worker_process).get(timeout=120)
    order.refresh_from_db()
    assert result == {**result, "order": order.pk, "sent": False, "status": "filled"}
    assert Order.objects.count() == 1 and broker_orders(order.client_id) == 1
    position = Position.objects.get()
    assert position.opening_order == order and position.status == PositionStatus.OPEN


@pytest.mark.services("postgres")
def test_a_closed_paper_position_costs_and_pays_what_pnl_py_says():
    bars = store_bars()
    account = paper_account()
    paper = PaperAccount.objects.get(account=account)
    opened_at, closed_at = AT, AT + timedelta(hours=3)
    key = manual_key(account.pk, "money-1")
    order = order_place(account.pk, idempotency_key=key, symbol="XAUUSD", side="BUY",
                        volume="0.10", broker=paper_broker_at(account, opened_at)).order
    position = Position.objects.get()
    close = position_close(position.pk, broker=paper_broker_at(account, closed_at)).order
    assert (order.status, close.status) == ("filled", "filled")
    position.refresh_from_db()

    spec = paper_broker_at(account, AT).symbol_info("XAUUSD")
    lots = Decimal("0.10")
    bid_in = open_bid(bars, opened_at, spec)
    bid_out = open_bid(bars, closed_at, spec)
    spread, slippage = spec.pips(paper.spread_pips), spec.pips(paper.slippage_pips)
    assert position.entry_price == bid_in + spread + slippage     # BUY: ask + slippage
    assert position.exit_price == bid_out - slippage              # close at the bid - slip
    raw = pnl.profit(1, lots, bid_in, bid_out, spec)
    assert position.gross_pnl == pnl.profit(1, lots, position.entry_price,
                                            position.exit_price, spec)
    assert position.gross_pnl == (raw - pnl.spread_cost(lots, spread, spec)
                                  - pnl.slippage_cost(lots, slippage, spec))
    assert position.commission == pnl.commission(lots, paper.commission_per_lot)
    assert position.swap == pnl.swap(1, lots, 0, spec.swap_long, spec.swap_short)
    assert position.net_pnl == position.gross_pnl - position.commission + position.swap
    assert position.exit_reason == ExitReason.CLOSED
    assert Deal.objects.filter(position=position).count() == 2


@pytest.mark.services("postgres")
def test_a_paper_stop_loss_closes_as_the_shared_fill_rule_says():
    bars = store_bars()
    account = paper_account()
    spec = paper_broker_at(account, AT).symbol_info("XAUUSD")
    bid = open_bid(bars, AT, spec)
    sl = bid - Decimal("3.00")
    order_place(account.pk, idempotency_key=manual_key(account.pk, "sl-1"), symbol="XAUUSD",
                side="BUY", volume="0.10", sl=str(sl), broker=paper_broker_at(account, AT))
    position = Position.objects.get()
    later = bars[bars.index > AT]
    hit = later[later["low"] <= float(sl)]
    assert len(hit), "the synthetic series must cross the stop for this test"
    when = hit.index[0]
    positions_sync(account.pk, broker=paper_broker_at(account, when.to_pydatetime()
                                                      + timedelta(hours=1, minutes=1)))
    position.refresh_from_db()
    row = bars.loc[when]
    paper = PaperAccount.objects.get(account=account)
    spread = float(spec.pips(paper.spread_pips))
    reason, exit_bid, _both = fills.first_touch(1, row["open"], row["high"], row["low"],
                                                spread, float(sl), float("nan"))
    assert position.status == PositionStatus.CLOSED and reason == fills.STOP_LOSS
    assert position.exit_reason == ExitReason.STOP_LOSS and position.exit_time >= when
    slippage = spec.pips(paper.slippage_pips)
    assert position.exit_price == spec.round_price(pnl.to_decimal(float(exit_bid))) - slippage
    assert position.gross_pnl == pnl.profit(1, Decimal("0.10"), position.entry_price,
                                            position.exit_price, spec)


@pytest.mark.services("postgres")
def test_a_hand_opened_paper_position_is_never_touched():
    store_bars()
    account = paper_account()
    broker = paper_broker_at(account, AT)
    hand = broker.open_by_hand("XAUUSD", OrderSide.SELL, Decimal("0.20"))
    order_place(account.pk, idempotency_key=manual_key(account.pk, "h1"), symbol="XAUUSD",
                side="BUY", volume="0.10", broker=broker)
    positions_sync(account.pk, broker=broker)
    assert not Position.objects.filter(broker_ticket=hand.position_ticket).exists()
    assert hand.position_ticket in [p.ticket for p in broker.positions()]
    assert Order.objects.get().client_id == client_id_for(manual_key(account.pk, "h1"))
