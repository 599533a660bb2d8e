"""One simulated terminal shared by several processes: what one process executed, another
sees and finds; errors stay per connection."""

from __future__ import annotations

import multiprocessing
import threading
from decimal import Decimal

import pytest

from trading.brokers.base import OrderState, client_id_for
from trading.brokers.mt5 import MT5Broker
from trading.brokers.mt5sim import XAUUSD_SPEC, MT5Simulator
from trading.brokers.mt5sim_server import connect, serve
from trading.tests.mt5_helpers import MAGIC, flat_bars, order

AUTHKEY = b"test-only-shared-terminal"


def shared_terminal() -> tuple[MT5Simulator, tuple[str, int]]:
    sim = MT5Simulator()
    sim.add_symbol("XAUUSD", flat_bars(["2350.00"] * 24), spec=XAUUSD_SPEC)
    sim.set_time("2024-03-05 10:30")
    return sim, serve(sim, AUTHKEY)


def broker_on(address) -> MT5Broker:
    terminal = connect(address, AUTHKEY)
    clock = MT5Simulator(clock=None)
    clock.set_time("2024-03-05 10:30")
    return MT5Broker(terminal, "1", "Sim", lambda: "pw", clock=lambda: clock.now().to_pydatetime(),
                     sleep=lambda _s: None)


def place(address, worker: int, count: int) -> list[str]:
    """Runs in a child process: ``count`` orders with this worker's client ids."""
    broker = broker_on(address)
    states = [broker.place_market_order(order(f"w{worker}-{i}", volume="0.01")).state.value
              for i in range(count)]
    broker.close()
    return states


def test_processes_share_one_terminal():
    sim, address = shared_terminal()
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(place, [(address, w, 3) for w in range(4)])
    assert results == [["filled"] * 3] * 4
    assert sim.executed_orders == 12
    positions = broker_on(address).positions()
    assert len(positions) == 12 and {p.magic for p in positions} == {MAGIC}
    assert {p.client_id for p in positions} == {client_id_for(f"w{w}-{i}") for w in range(4)
                                                for i in range(3)}


def test_an_order_placed_by_one_process_is_found_by_another():
    sim, address = shared_terminal()
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        assert pool.starmap(place, [(address, 7, 1)]) == [["filled"]]
    other = broker_on(address)
    found = other.find_order(client_id_for("w7-0"), MAGIC, other._clock())
    assert found is not None and found.state is OrderState.FILLED
    assert found.volume == Decimal("0.01") and sim.executed_orders == 1


def test_errors_and_shutdown_are_per_connection():
    """Each client thread (like each process) has its own connection, error and session."""
    _sim, address = shared_terminal()
    seen: dict[str, object] = {}

    def other_client() -> None:
        terminal = connect(address, AUTHKEY)
        terminal.initialize()
        seen["error"] = terminal.last_error()
        seen["positions"] = terminal.positions_get()

    first = connect(address, AUTHKEY)
    assert first.initialize() and first.symbol_info("NOPE") is None
    thread = threading.Thread(target=other_client)
    thread.start()
    thread.join(timeout=30)
    assert first.last_error()[0] == -4
    assert seen == {"error": (1, "Success"), "positions": ()}
    first.shutdown()
    assert first.executed_orders() == 0 and first.positions_get() == ()


def test_the_server_listens_on_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        serve(MT5Simulator(), AUTHKEY, host="0.0.0.0")  # noqa: S104 - refused, never bound
