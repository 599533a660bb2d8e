"""One simulated MT5 terminal shared by several processes over loopback (pure: no Django).

A real terminal serves every process that connects to it: several NusaTrade workers placing
the same decision must end with ONE broker order there. Tests and benchmarks that run
processes (not threads) need the same shared state, so :func:`serve` puts an
:class:`~trading.brokers.mt5sim.MT5Simulator` behind a ``multiprocessing`` manager on
127.0.0.1 (authkey required) and :func:`connect` returns a proxy with the module's call
names, usable as ``MT5Broker``'s module in any process, like mt5linux's bridge.

As in a terminal: calls are serialised (one lock), ``last_error()`` is per connection, and a
client's ``shutdown()`` never stops the terminal for the others (it only forgets that
client's last error).
Properties are served as calls: ``executed_orders()``, ``requests()``.
"""

from __future__ import annotations

import ipaddress
import threading
from multiprocessing.managers import BaseManager
from typing import Any

from trading.brokers.mt5sim import MT5Simulator

# The module functions and simulator controls a client may call.
EXPOSED = (
    "initialize", "login", "shutdown", "version", "last_error", "terminal_info",
    "account_info", "symbols_total", "symbol_select", "symbol_info", "symbol_info_tick",
    "copy_rates_from_pos", "copy_rates_from", "copy_rates_range", "order_check", "order_send",
    "positions_get", "positions_total", "orders_get", "orders_total", "history_deals_get",
    "history_deals_total", "history_orders_get", "history_orders_total",
    # test controls
    "set_time", "queue_fault", "fail_next", "open_by_hand", "move_quote", "set_commission",
    "executed_orders", "requests",
)


class SharedTerminal:
    """The served object: the simulator behind one lock, with per-connection errors."""

    def __init__(self, sim: MT5Simulator) -> None:
        self._sim = sim
        self._lock = threading.Lock()
        self._errors: dict[int, tuple[int, str]] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in EXPOSED:
            raise AttributeError(name)
        function = getattr(self._sim, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                result = function(*args, **kwargs)
                self._errors[threading.get_ident()] = self._sim.last_error()
            return result

        return call

    def last_error(self) -> tuple[int, str]:
        return self._errors.get(threading.get_ident(), (1, "Success"))

    def shutdown(self) -> None:
        """The shared terminal stays up for the other clients."""
        self._errors.pop(threading.get_ident(), None)

    def executed_orders(self) -> int:
        with self._lock:
            return self._sim.executed_orders

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._sim.requests


class _ServerManager(BaseManager):
    pass


class _ClientManager(BaseManager):
    pass


_ClientManager.register("terminal", exposed=EXPOSED)


def serve(sim: MT5Simulator, authkey: bytes, host: str = "127.0.0.1",
          port: int = 0) -> tuple[str, int]:
    """Serve ``sim`` from a daemon thread of this process; the (host, port) it listens on.
    Loopback only: the manager unpickles what clients send."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError("the simulator server listens on loopback only")
    terminal = SharedTerminal(sim)

    class Manager(_ServerManager):
        pass

    Manager.register("terminal", callable=lambda: terminal, exposed=EXPOSED)
    server = Manager(address=(host, port), authkey=authkey).get_server()
    threading.Thread(target=server.serve_forever, name="mt5sim-server", daemon=True).start()
    return server.address


def connect(address: tuple[str, int], authkey: bytes) -> Any:
    """A proxy of the served terminal (module-like: ``proxy.order_send(request)``)."""
    manager = _ClientManager(address=tuple(address), authkey=authkey)
    manager.connect()
    return manager.terminal()
