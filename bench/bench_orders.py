"""Order path speed: ``order_place`` from call to recorded fill, on the paper broker and on the
MT5 simulator, against PostgreSQL; and what the safety machinery costs over bare round trips.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nusatrade .venv/bin/python \
        bench/bench_orders.py [--orders 60] [--runs 3] [--procs 4] [--brokers paper,mt5sim]

Runs in a scratch database (``bench_orders_<name>``, created and dropped here; the configured
database is never touched). Every order is a real ``order_place`` (validation with the broker's
facts and quote, account lock, kill switches and risk rules, intent commit, send lock, sent
mark, broker call, outcome record); orders alternate open and close so the book stays small.
Measured, as medians of ``--runs`` rounds:

* latency (median, p95) per order on the paper broker (persisted in the same database) and
  on the MT5 simulator driven by the real MT5Broker (in memory);
* orders/s from one process, and from ``--procs`` processes on different accounts at once;
* overhead: ``order_place`` (with an instant in-memory broker, and with each broker) against
  the bare database round trips it needs, measured just before each round on the same
  connection: as many statements as one order sends, in three durable commits that each write
  a row, the rest ``SELECT 1``. The ratio is what the ORM, the checks and the broker cost
  above the database's own floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from trading.models import Position, RiskPolicy  # noqa: E402
from trading.services import (  # noqa: E402
    account_create,
    manual_key,
    order_place,
    paper_broker_at,
    position_close,
)
from trading.tests.fakes import FakeBroker  # noqa: E402
from trading.tests.mt5_helpers import make  # noqa: E402
from trading.tests.orderpaths import AT, store_bars  # noqa: E402


def bench_account(name: str) -> int:
    """A paper account whose risk rules let a benchmark trade as often as it likes."""
    from accounts.models import User

    User.objects.get_or_create(username="bench")
    account = account_create("bench", name=name, broker="paper", balance=10_000_000)
    RiskPolicy.objects.filter(account=account).update(
        max_trades_per_day=None, one_position_per_symbol=False, daily_loss_stop_pct=None,
        max_consecutive_losses=None, min_profit_factor=None, min_win_rate_pct=None,
        max_drawdown_pct=None)
    return account.pk


def broker_of(kind: str, account_id: int):
    from accounts.models import TradingAccount

    if kind == "paper":
        return paper_broker_at(TradingAccount.objects.get(pk=account_id), AT)
    if kind == "mt5sim":
        _sim, broker, _waits = make(["2350.00"] * 48)
        broker._module._account.balance *= 1000   # room for every order's margin
        return broker
    return FakeBroker()


def one_order(account_id: int, broker, open_: bool) -> float:
    """Seconds for one order (an open, or the close of the last open position)."""
    started = time.perf_counter()
    if open_:
        result = order_place(account_id, idempotency_key=manual_key(account_id, uuid.uuid4().hex),
                             symbol="XAUUSD", side="BUY", volume="0.01", broker=broker)
    else:
        position = Position.objects.filter(account_id=account_id, status="open").latest("id")
        result = position_close(position.pk, broker=broker)
    elapsed = time.perf_counter() - started
    assert result.order.status == "filled", result.message
    return elapsed


def place_many(account_id: int, broker, count: int) -> list[float]:
    return [one_order(account_id, broker, i % 2 == 0) for i in range(count)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def bare_round_trips(statements: int, transactions: int, repeat: int) -> float:
    """Seconds for ``statements`` round trips in ``transactions`` durable commits: each
    transaction writes one row (so its commit is flushed to the WAL, as the order path's are),
    the other statements are ``SELECT 1``. The floor any order path on this database pays."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_round_trip (id bigserial, v int)")
    selects = max(0, statements - transactions)
    started = time.perf_counter()
    for _ in range(repeat):
        for t in range(transactions):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("INSERT INTO bench_round_trip (v) VALUES (%s)", [t])
                for _s in range(selects // transactions + (t < selects % transactions)):
                    cursor.execute("SELECT 1")
    return (time.perf_counter() - started) / repeat


def parallel(kind: str, procs: int, count: int, db_url: str) -> float:
    """Orders/s of ``procs`` processes, each on its own account, started together."""
    accounts = [bench_account(f"{kind}-{uuid.uuid4().hex[:6]}") for _ in range(procs)]
    start = time.time() + 5
    env = {**os.environ, "DATABASE_URL": db_url}
    workers = [subprocess.Popen([sys.executable, __file__, "--worker", str(a), "--kind", kind,
                                 "--orders", str(count), "--start", str(start)],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
               for a in accounts]
    spans = [json.loads(w.communicate(timeout=900)[0].strip().splitlines()[-1]) for w in workers]
    wall = max(s["end"] for s in spans) - min(s["begin"] for s in spans)
    return procs * count / wall


def worker(account_id: int, kind: str, count: int, start: float) -> None:
    broker = broker_of(kind, account_id)
    one_order(account_id, broker, True)    # warm connection and caches
    one_order(account_id, broker, False)
    while time.time() < start:
        time.sleep(0.001)
    begin = time.time()
    for i in range(count):
        one_order(account_id, broker, i % 2 == 0)
    print(json.dumps({"begin": begin, "end": time.time()}))


def round_of(kind: str, orders: int) -> tuple[list[float], float]:
    account = bench_account(f"{kind}-{uuid.uuid4().hex[:6]}")
    broker = broker_of(kind, account)   # one per account: a new simulator reuses tickets
    place_many(account, broker, 2)      # warm-up
    started = time.perf_counter()
    latencies = place_many(account, broker, orders)
    return latencies, orders / (time.perf_counter() - started)


def statements_per_order() -> int:
    """The statements one ``order_place`` (a close, with an instant broker) sends."""
    account = bench_account(f"count-{uuid.uuid4().hex[:6]}")
    broker = broker_of("fake", account)
    one_order(account, broker, True)
    with CaptureQueriesContext(connection) as captured:
        one_order(account, broker, False)
    sql = [q["sql"].upper() for q in captured.captured_queries]
    return len([s for s in sql if not s.startswith(("SAVEPOINT", "RELEASE"))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--brokers", default="paper,mt5sim",
                        help="comma-separated: paper, mt5sim (default both)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.kind, args.orders, args.start)
        return
    from bench.scratch import scratch_database

    with scratch_database("orders"):
        run(args)


def report(label: str, rounds: list[tuple[list[float], float, float]]) -> None:
    """One line per broker: medians over the rounds of each round's median, p95, rate and
    ratio to the bare round trips measured just before that round."""
    medians = [statistics.median(r[0]) for r in rounds]
    p95s = [percentile(r[0], 0.95) for r in rounds]
    rates = [r[1] for r in rounds]
    ratios = [statistics.median(r[0]) / r[2] for r in rounds]
    bare = statistics.median(r[2] for r in rounds)
    print(f"{label:<8} latency median {statistics.median(medians) * 1000:7.2f} ms  "
          f"p95 {statistics.median(p95s) * 1000:7.2f} ms  "
          f"1 process {statistics.median(rates):6.1f} orders/s  "
          f"bare round trips {bare * 1000:6.2f} ms  ratio {statistics.median(ratios):5.1f}x")


def run(args: argparse.Namespace) -> None:
    db = connection.settings_dict
    db_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    version = connection.cursor().connection.info.server_version
    print(f"order path bench on PostgreSQL {version // 10000}.{version % 100}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {args.orders} orders x "
          f"{args.runs} rounds (medians), {args.procs} processes")
    store_bars(str((AT - timedelta(days=20)).date()), str((AT + timedelta(days=3)).date()))
    statements = statements_per_order()
    print(f"one order_place = {statements} statements in 3 durable transactions (plus the "
          "broker's own); 'bare' = that many round trips, measured before each round")
    kinds = ["instant", *args.brokers.split(",")]
    results: dict[str, list] = {kind: [] for kind in kinds}
    for _ in range(args.runs):           # interleaved: load swings hit every kind alike
        for kind in kinds:
            bare = bare_round_trips(statements, 3, max(5, args.orders // 10))
            latencies, rate = round_of("fake" if kind == "instant" else kind, args.orders)
            results[kind].append((latencies, rate, bare))
    for kind, rounds in results.items():
        report(kind, rounds)
    for kind in kinds[1:]:
        rates = [parallel(kind, args.procs, args.orders // 2, db_url)
                 for _ in range(max(1, args.runs - 1))]
        print(f"{kind:<8} {args.procs} processes on {args.procs} accounts: "
              f"{statistics.median(rates):6.1f} orders/s")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
