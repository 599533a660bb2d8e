"""Acceptance of the scheduled cycle on REAL services: PostgreSQL, Celery on Redis, a prefork
worker (the production pool) and beat on the DatabaseScheduler, paper accounts whose broker
book lives in PostgreSQL, and a model trained with the production features.

- beat + worker drive 3 accounts over a fast-forwarded clock: one Signal per account and bar,
  orders exactly as an in-process reference cycle decides, a repeated run does nothing;
- a worker process SIGKILLed mid-cycle (intent committed, nothing sent) and restarted by its
  pool: the redelivered cycle sends the order once, nothing lost, nothing doubled;
- RELIABILITY 3 (killed after the broker accepted), 4 (the broker's answer lost), 7 (database
  unreachable at cycle start), 8 (overlapping cycles; a killed lock holder) and 10 (50
  identical cycles at once) through ``trading.cycle``, not only through ``order_place``.

Each test skips without the services and fails under REQUIRE_SERVICES=1 (root conftest).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from celery import group

from mlops.models import MLModel, ModelStatus
from trading.models import Order, OrderPurpose, OrderStatus, Position, Signal
from trading.paper.models import PaperDeal
from trading.tasks import cycle, run_cycles
from trading.tests.cycleprocs import Beat, Worker, wait_for
from trading.tests.orderpaths import ROOT, subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services("celery")]

TRAIN_END = datetime(2024, 2, 29, 23, tzinfo=UTC)
# Wednesday 2024-03-06: bar closes 10:00 ... inside the stored data, market open.
FIRST_CLOSE = datetime(2024, 3, 6, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def market(transactional_db, settings, tmp_path):
    """Stored H1 bars, an active random forest on the production features (its files in this
    test's ARTIFACTS_DIR, which the worker inherits), and no other beat schedule enabled."""
    from django_celery_beat.models import PeriodicTask

    from marketdata import synthetic
    from marketdata.services import bars_upsert
    from mlops.pipeline import TrainConfig
    from mlops.services import clear_estimator_cache, model_train

    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    clear_estimator_cache()
    frame = synthetic.generate_range("2023-06-01", "2024-04-01", "H1", seed=5,
                                     symbol="XAUUSD", start_price=2050.0)
    bars_upsert("XAUUSD", "H1", frame, synthetic=True)
    config = TrainConfig(params={"n_estimators": 20, "max_depth": 4}, importance_repeats=1,
                         min_trades=5, n_jobs=1, threshold=0.5)
    model = model_train(symbol="XAUUSD", timeframe="H1", config=config, cost=0.3,
                        end=TRAIN_END)
    MLModel.objects.filter(pk=model.pk).update(status=ModelStatus.ACTIVE, threshold=0.5)
    PeriodicTask.objects.update(enabled=False)   # the migration's real-time schedules
    return model


def accounts(count: int, prefix: str = "paper") -> list[int]:
    from accounts.models import User
    from trading.services import account_create

    User.objects.get_or_create(username="trader")
    return [account_create("trader", name=f"{prefix} {i}", broker="paper").pk
            for i in range(count)]


def trading_close(start: datetime = FIRST_CLOSE, limit: int = 48) -> datetime:
    """The first bar close from ``start`` whose cycle opens a position (a dry run decides)."""
    from trading.cycle.run import cycle_run

    probe = accounts(1, "probe")[0]
    close = start
    for _ in range(limit):
        outcome = cycle_run(probe, at=close, dry_run=True)
        if outcome.decision in ("BUY", "SELL") and outcome.order:
            return close
        close += HOUR
    raise AssertionError(f"no BUY/SELL decision in {limit} bars from {start}")


def broker_opens(order: Order) -> int:
    """Positions the paper broker opened for this order (its opening deals)."""
    return PaperDeal.objects.filter(client_id=order.client_id, entry="in").count()


def entry_orders(account_id: int) -> list[Order]:
    return list(Order.objects.filter(account_id=account_id, purpose=OrderPurpose.OPEN)
                .order_by("signal__bar_time"))


def book(account_id: int) -> list[tuple]:
    """What an account did, comparable across accounts: per bar its decision, its entry order
    (side, volume, status, fill price) and the positions' exits."""
    signals = {s.bar_time: s.decision for s in Signal.objects.filter(account_id=account_id)}
    orders = {o.signal.bar_time: (o.side, o.volume, o.status, o.fill_price)
              for o in Order.objects.filter(account_id=account_id, purpose=OrderPurpose.OPEN)
              .select_related("signal")}
    exits = sorted((p.entry_time, p.exit_time, p.exit_reason, p.net_pnl)
                   for p in Position.objects.filter(account_id=account_id))
    return [sorted(signals.items()), sorted(orders.items()), exits]


def test_beat_and_a_worker_run_three_accounts_over_a_fast_forwarded_clock(market, tmp_path):
    """The clock: an interval schedule (every second) of ``trading.run_cycles`` whose ``at``
    the test advances bar by bar in the database, as an operator would edit it in the admin;
    beat sees the change and keeps firing, so every bar is dispatched many times."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from trading.cycle.run import cycle_run

    ids = accounts(3)
    closes = [FIRST_CLOSE + k * HOUR for k in range(4)]
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    with Worker(tmp_path) as worker, Beat(tmp_path) as beat:
        clock = PeriodicTask.objects.create(
            name="test clock", task="trading.run_cycles", interval=every_second,
            queue=worker.queue, kwargs=json.dumps({"timeframe": "H1", "at": closes[0]
                                                   .isoformat(), "queue": worker.queue}))
        for close in closes:
            clock.kwargs = json.dumps({"timeframe": "H1", "at": close.isoformat(),
                                       "queue": worker.queue})
            clock.save()                         # beat reloads changed schedules
            bar = close - HOUR
            wait_for(lambda b=bar: Signal.objects.filter(account_id__in=ids, bar_time=b)
                     .count() == 3, 180, f"3 signals for {bar}", log=worker.log)
            # a repeated run for a processed bar does nothing
            again = cycle.apply_async((ids[0], close.isoformat()), {"drill": True},
                                      queue=worker.queue).get(timeout=120)
            assert again["status"] == "already_processed", again
        clock.enabled = False
        clock.save()
        worker_log = worker.log_path.read_text()
    assert "trading.run_cycles" in beat.log_path.read_text()
    reference = accounts(1, "reference")[0]      # created after beat stopped: not dispatched
    for close in closes:
        cycle_run(reference, at=close)           # in-process reference, same clock
    expected = book(reference)
    assert len(expected[0]) == 4
    for account_id in ids:
        assert Signal.objects.filter(account_id=account_id).count() == 4   # one per bar
        assert book(account_id) == expected                                 # as decided
        for order in entry_orders(account_id):
            assert order.status != OrderStatus.FILLED or broker_opens(order) == 1
    # fired many times per bar: still one signal and at most one entry order per bar
    dispatched = [line for line in worker_log.splitlines()
                  if "trading.run_cycles[" in line and "succeeded" in line]
    assert len(dispatched) > len(closes)


def _run_three(worker: Worker, ids: list[int], close: datetime):
    return [cycle.apply_async((pk, close.isoformat()), {"drill": True}, queue=worker.queue)
            for pk in ids]


def _one_filled_order_each(ids: list[int], close: datetime) -> None:
    for account_id in ids:
        assert Signal.objects.filter(account_id=account_id).count() == 1
        [order] = entry_orders(account_id)
        assert order.signal.bar_time == close - HOUR
        assert order.status == OrderStatus.FILLED and broker_opens(order) == 1
        assert Position.objects.filter(account_id=account_id, opening_order=order).count() == 1


def test_a_worker_killed_mid_cycle_is_restarted_without_a_lost_or_doubled_order(market,
                                                                                  tmp_path):
    close = trading_close()
    ids = accounts(3)
    with Worker(tmp_path, mode="hold") as worker:
        results = _run_three(worker, ids, close)
        wait_for(lambda: list(worker.fault_dir.glob("held-*")), 180, "a cycle held",
                 log=worker.log)
        [held] = worker.fault_dir.glob("held-*")
        held_order = Order.objects.get(status=OrderStatus.PENDING)   # intent committed
        os.kill(int(held.name.split("-")[1]), signal.SIGKILL)         # the pool restarts it
        (worker.fault_dir / "go").touch()
        outcomes = [r.get(timeout=240) for r in results]
        log = worker.log_path.read_text()
    assert "WorkerLostError" in log or "signal 9" in log
    assert {o["status"] for o in outcomes} <= {"done", "already_processed"}
    _one_filled_order_each(ids, close)
    held_order.refresh_from_db()
    assert held_order.status == OrderStatus.FILLED and held_order.attempts == 1


def test_reliability_3_killed_after_the_broker_accepted(market, tmp_path):
    """SIGKILL between the broker's fill and the DB commit, inside the cycle: the redelivered
    cycle finds the broker's order by client id: one broker order, one Order row."""
    close = trading_close()
    ids = accounts(3)
    with Worker(tmp_path, mode="kill_after_accept") as worker:
        outcomes = [r.get(timeout=240) for r in _run_three(worker, ids, close)]
        assert list(worker.fault_dir.glob("killed-*")), worker.log()
    assert {o["status"] for o in outcomes} <= {"done", "already_processed"}
    _one_filled_order_each(ids, close)
    assert Order.objects.filter(purpose=OrderPurpose.OPEN).count() == 3


def test_reliability_4_a_lost_broker_answer_is_looked_up_never_resent(market, tmp_path):
    close = trading_close()
    [pk] = accounts(1)
    with Worker(tmp_path, mode="lost_answer") as worker:
        first = cycle.apply_async((pk, close.isoformat()), {"drill": True},
                                  queue=worker.queue).get(timeout=240)
        [order] = entry_orders(pk)
        assert (first["order_id"], order.status) == (order.pk, OrderStatus.UNKNOWN)
        assert broker_opens(order) == 1               # it did fill at the broker
        # the next run of the bar (a redelivery, a second beat) resumes the unknown order:
        # it is looked up by client id and found filled, never sent again
        again = cycle.apply_async((pk, close.isoformat()), {"drill": True},
                                  queue=worker.queue).get(timeout=240)
        third = cycle.apply_async((pk, close.isoformat()), {"drill": True},
                                  queue=worker.queue).get(timeout=240)
    order.refresh_from_db()
    assert (again["status"], again["order_id"], again["order_status"]) == (
        "done", order.pk, "filled"), again
    assert third["status"] == "already_processed", third
    assert order.status == OrderStatus.FILLED and order.attempts == 1
    assert broker_opens(order) == 1 and Order.objects.count() == 1


def test_reliability_7_database_unreachable_at_cycle_start_sends_nothing(market, tmp_path):
    """The worker's database is a closed port: the cycle cannot commit an intent, so nothing
    reaches the (database-backed) broker; once the database is back the same bar trades once.
    (Adopting an orphan broker position after an outage is reconciliation's test.)"""
    close = trading_close()
    [pk] = accounts(1)
    env = subprocess_env()
    env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:9/unreachable"   # nothing listens
    env["CELERY_TASK_ALWAYS_EAGER"] = "false"
    # The task body as a worker runs it (called directly, so its autoretry re-raises).
    code = ("import django, json, sys; django.setup();"
            "from trading.tasks import cycle\n"
            "try:\n    r = cycle(int(sys.argv[1]), sys.argv[2], drill=True); error = None\n"
            "except Exception as exc:\n    error = type(exc).__name__\n"
            "print(json.dumps({'error': error}))")
    proc = subprocess.run([sys.executable, "-c", code, str(pk), close.isoformat()], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"error": "OperationalError"}, result
    assert Signal.objects.count() == 0 and Order.objects.count() == 0
    assert PaperDeal.objects.count() == 0
    with Worker(tmp_path) as worker:
        outcome = cycle.apply_async((pk, close.isoformat()), {"drill": True},
                                    queue=worker.queue).get(timeout=240)
    assert outcome["status"] == "done"
    _one_filled_order_each([pk], close)


def test_reliability_8_overlapping_cycles_skip_and_a_killed_holder_frees_the_lock(market,
                                                                                  tmp_path):
    close = trading_close()
    [pk] = accounts(1)
    holder = subprocess.Popen([sys.executable, "-m", "trading.tests.lock_holder", str(pk)],
                              cwd=ROOT, env=subprocess_env(), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().split()[0] == "acquired"
        with Worker(tmp_path) as worker:
            skipped = cycle.apply_async((pk, close.isoformat()), {"drill": True},
                                        queue=worker.queue).get(timeout=240)
            assert skipped["status"] == "skipped_locked", skipped
            assert Signal.objects.count() == 0 and Order.objects.count() == 0
            holder.send_signal(signal.SIGKILL)          # the holder dies: its lock goes
            holder.wait(timeout=30)
            ran = cycle.apply_async((pk, close.isoformat()), {"drill": True},
                                    queue=worker.queue).get(timeout=240)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert ran["status"] == "done", ran
    _one_filled_order_each([pk], close)


def test_reliability_10_fifty_identical_cycles_at_once_make_one_order(market, tmp_path):
    close = trading_close()
    [pk] = accounts(1)
    with Worker(tmp_path, concurrency=2) as worker:
        job = group(cycle.s(pk, close.isoformat(), drill=True).set(queue=worker.queue)
                    for _ in range(50))
        outcomes = job.apply_async().get(timeout=600)
    statuses = [o["status"] for o in outcomes]
    assert statuses.count("done") == 1, statuses
    assert set(statuses) <= {"done", "already_processed", "skipped_locked"}
    _one_filled_order_each([pk], close)
    assert Order.objects.count() == 1 and Signal.objects.count() == 1


def test_the_fan_out_task_on_a_worker_queues_every_account(market, tmp_path):
    ids = accounts(3)
    close = FIRST_CLOSE
    with Worker(tmp_path) as worker:
        report = run_cycles.apply_async(("H1",), {"at": close.isoformat(),
                                                   "queue": worker.queue},
                                        queue=worker.queue).get(timeout=120)
        assert sorted(report["queued"]) == sorted(ids) and report["drill"]
        wait_for(lambda: Signal.objects.filter(account_id__in=ids).count() == 3, 180,
                 "3 signals", log=worker.log)
