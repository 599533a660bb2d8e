"""Paper broker on PostgreSQL: latency of a market order and of a close, against the bare
database work one locked call cannot avoid.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nusatrade .venv/bin/python \
        bench/bench_paper_broker.py [--rounds 5] [--calls 40]

Runs in a scratch database (``test_<name>``, created and dropped here). Each round times, one
after the other so load swings hit all alike: ``SELECT 1`` (one round trip), a bare locked
update (``atomic`` + ``SELECT ... FOR UPDATE`` of the paper account + ``UPDATE`` of its
balance: the minimum a race-safe call needs), ``place_market_order`` (open 0.01 lot XAUUSD)
and ``close_position``, ``--calls`` each. Prints medians over rounds of the per-call median and
p95, and the ratio of each broker call to the bare locked update.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from accounts.models import TradingAccount, User  # noqa: E402
from marketdata.services import bars_upsert  # noqa: E402
from trading.brokers import broker_for  # noqa: E402
from trading.brokers.base import MarketOrder, OrderSide  # noqa: E402
from trading.brokers.paper import ManualClock  # noqa: E402
from trading.paper.models import PaperAccount  # noqa: E402
from trading.tests.paper_scenarios import bars  # noqa: E402


def timed(call: Callable[[], object], calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def run(rounds: int, calls: int) -> None:
    bars_upsert("XAUUSD", "H1", bars("2024-03-04", "2024-03-09", 2350.0), synthetic=True)
    owner = User.objects.create_user("bench")
    account = TradingAccount.objects.create(owner=owner, name="bench",
                                            initial_balance=Decimal("1000000"))
    broker = broker_for(account, clock=ManualClock("2024-03-05 12:20"))
    paper_id = PaperAccount.objects.get(account=account).pk
    opened: list[int] = []

    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def locked_update() -> None:
        with transaction.atomic():
            row = PaperAccount.objects.select_for_update().get(pk=paper_id)
            row.save(update_fields=["balance"])

    def place() -> None:
        outcome = broker.place_market_order(MarketOrder(
            "XAUUSD", OrderSide.BUY, Decimal("0.01"), "NTbench", 42))
        opened.append(outcome.position_ticket)

    def close() -> None:
        broker.close_position(opened.pop(), client_id="NTbenchc", magic=42)

    results: dict[str, list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for name, call in (("SELECT 1", select_one), ("locked update", locked_update),
                           ("place_market_order", place), ("close_position", close)):
            times = timed(call, calls)
            results.setdefault(name, []).append((statistics.median(times), p95(times)))
    base = statistics.median(m for m, _ in results["locked update"])
    print(f"PostgreSQL {connection.cursor().connection.info.server_version}, {rounds} rounds "
          f"x {calls} calls")
    print(f"{'call':<20} {'median ms':>10} {'p95 ms':>8} {'x locked update':>16}")
    for name, values in results.items():
        median = statistics.median(m for m, _ in values)
        tail = statistics.median(p for _, p in values)
        print(f"{name:<20} {median * 1e3:>10.2f} {tail * 1e3:>8.2f} {median / base:>16.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    from bench.scratch import scratch_database

    with scratch_database(postgres_only=False):
        run(args.rounds, args.calls)


if __name__ == "__main__":
    main()
