"""Fault doubles for tests of the foundation: a server that accepts and never answers."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any


class HungServer:
    """A loopback TCP listener that accepts every connection and never sends a byte.

    The worst kind of outage for a client without a read timeout (a frozen Redis, a black-holed
    NAT entry): connecting succeeds, then every read waits forever. Closing it releases any
    client still blocked on it, so a test that fails by hanging does not leak a stuck thread.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def accepted(self) -> int:
        return len(self._accepted)

    def _serve(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                connection, _ = self._listener.accept()
                self._accepted.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for connection in [*self._accepted, self._listener]:
            with contextlib.suppress(OSError):
                connection.close()


def run_bounded(function: Callable[[], Any], guard_seconds: float) -> tuple[bool, dict]:
    """Run ``function`` in a thread; (finished, result or exception). The guard only stops a
    hanging test from hanging the suite: tests assert on the outcome, never on a duration."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = function()
        except Exception as exc:  # the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(guard_seconds)
    return (not thread.is_alive()), outcome
