"""MT5Broker's order path over the simulator: what the safety machinery costs per order.

Pure (no database): one simulated terminal fed with 14 years of synthetic H1 XAUUSD. Per
round (median of ROUNDS rounds of N orders each, fresh terminal per round):

- ``bare order_send``: the request dict sent straight to the simulator (the baseline: the
  terminal's own work);
- ``place (N pile up)``: the adapter's full path (symbol_info, fresh tick, checks,
  order_check, order_send, the deal look-up for the position ticket), positions left open
  (equity and margin are summed over them on every check, as a terminal does);
- ``open + close``: place_market_order then close_position (baseline: the same two bare
  ``order_send`` calls);
- ``lost answer``: order_send answers None (it executed), then the look-up in deal history
  and positions finds it (the history grows with N).

Prints median and p95 per order in ms and the ratio to its baseline of the same round: the
bare ``order_send`` with positions piling up the same way, or the bare open + close pair.

    /work/main/.venv/bin/python bench/bench_mt5_adapter.py
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from marketdata.synthetic import generate_range
from trading.brokers import mt5_constants as c
from trading.brokers.base import MarketOrder, OrderSide, client_id_for
from trading.brokers.mt5 import MT5Broker
from trading.brokers.mt5sim import MT5Simulator

ROUNDS, N = 5, 100
FEED = generate_range("2010-01-01", "2024-04-01", "H1", seed=1, start_price=2350.0)
MAGIC = 777


def terminal() -> tuple[MT5Simulator, MT5Broker]:
    sim = MT5Simulator(balance="100000000")
    sim.add_symbol("XAUUSD", FEED)
    sim.set_time("2024-03-05 10:30")
    broker = MT5Broker(sim, "1", "Bench", lambda: "pw",
                       clock=lambda: sim.now().to_pydatetime(), sleep=lambda _s: None)
    broker.connect()
    sim.symbol_select("XAUUSD", True)
    return sim, broker


def order(i: int, tag: str) -> MarketOrder:
    return MarketOrder("XAUUSD", OrderSide.BUY, Decimal("0.01"), client_id_for(f"{tag}-{i}"),
                       MAGIC)


def timed(action, count: int) -> list[float]:
    out = []
    for i in range(count):
        started = time.perf_counter()
        action(i)
        out.append(time.perf_counter() - started)
    return out


def actions(sim: MT5Simulator, broker: MT5Broker) -> dict[str, Callable[[int], None]]:
    tick = sim.symbol_info_tick("XAUUSD")

    def bare(i: int) -> None:
        sim.order_send({"action": c.TRADE_ACTION_DEAL, "symbol": "XAUUSD", "volume": 0.01,
                        "type": c.ORDER_TYPE_BUY, "price": tick.ask, "deviation": 20,
                        "magic": MAGIC, "comment": client_id_for(f"bare-{i}"),
                        "type_time": c.ORDER_TIME_GTC, "type_filling": c.ORDER_FILLING_FOK})

    def bare_round_trip(i: int) -> None:
        opened = sim.order_send({"action": c.TRADE_ACTION_DEAL, "symbol": "XAUUSD",
                                 "volume": 0.01, "type": c.ORDER_TYPE_BUY, "price": tick.ask,
                                 "deviation": 20, "magic": MAGIC,
                                 "comment": client_id_for(f"bare-rt-{i}"),
                                 "type_time": c.ORDER_TIME_GTC,
                                 "type_filling": c.ORDER_FILLING_FOK})
        sim.order_send({"action": c.TRADE_ACTION_DEAL, "symbol": "XAUUSD", "volume": 0.01,
                        "type": c.ORDER_TYPE_SELL, "position": opened.order,
                        "price": tick.bid, "deviation": 20, "magic": MAGIC,
                        "comment": client_id_for(f"bare-rx-{i}"),
                        "type_time": c.ORDER_TIME_GTC, "type_filling": c.ORDER_FILLING_FOK})

    def place(i: int) -> None:
        broker.place_market_order(order(i, "place"))

    def round_trip(i: int) -> None:
        opened = broker.place_market_order(order(i, "rt"))
        broker.close_position(opened.position_ticket, client_id=client_id_for(f"rt-x-{i}"),
                              magic=MAGIC)

    def lost(i: int) -> None:
        sim.queue_fault("timeout")
        broker.place_market_order(order(i, "lost"))

    return {"bare order_send": bare, "place (N pile up)": place,
            "lost answer + look-up": lost, "bare open + close": bare_round_trip,
            "open + close": round_trip}


def one_round() -> dict[str, list[float]]:
    """Each operation on a fresh terminal (positions pile up within an operation's N orders,
    as on a busy account)."""
    return {name: timed(actions(*terminal())[name], N) for name in actions(*terminal())}


def main() -> None:
    logging.disable(logging.WARNING)      # the lost-answer case logs each look-up
    rounds = [one_round() for _ in range(ROUNDS)]
    print(f"MT5Broker over the simulator: {ROUNDS} rounds x {N} orders, 14 y H1 feed")
    print(f"{'operation':<24}{'median ms':>10}{'p95 ms':>10}{'x base':>8}")
    for name in rounds[0]:
        medians = [statistics.median(r[name]) for r in rounds]
        p95s = [statistics.quantiles(r[name], n=20)[18] for r in rounds]
        base = "bare open + close" if name.endswith("open + close") else "bare order_send"
        ratios = [statistics.median(r[name]) / statistics.median(r[base]) for r in rounds]
        print(f"{name:<24}{statistics.median(medians) * 1000:>10.2f}"
              f"{statistics.median(p95s) * 1000:>10.2f}{statistics.median(ratios):>8.1f}")


if __name__ == "__main__":
    main()
