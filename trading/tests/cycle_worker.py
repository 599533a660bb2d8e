"""A real Celery worker with one injected paper-broker fault (used by the cycle acceptance
tests; not a test module).

    python -m trading.tests.cycle_worker MODE FAULT_DIR [celery worker options...]

MODE (each fault fires ONCE across every process, the first time an opening order reaches
the paper broker; the files in FAULT_DIR say what happened):

- ``plain``: no fault.
- ``hold``: write ``held-<pid>`` and wait for ``go`` when an opening order's committed intent
  is about to be marked sent (``trading.services.orders._mark_sent``), so the test can SIGKILL
  the process mid-cycle: signal and order intent committed, nothing sent to the broker.
- ``kill_after_accept``: SIGKILL this process right after the broker executed the order,
  before the database recorded it (RELIABILITY 3).
- ``lost_answer``: the broker executes the order and the answer is lost (a timeout:
  ``TemporaryBrokerError``), RELIABILITY 4.

The patch is applied before the worker starts, so prefork children inherit it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")


def _first(fault_dir: Path) -> bool:
    """True for exactly one caller across processes (O_EXCL on a marker file)."""
    try:
        os.close(os.open(fault_dir / "fired", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def install(mode: str, fault_dir: Path) -> None:
    from nusatrade.errors import TemporaryBrokerError
    from trading.brokers.paper.broker import PaperBroker
    from trading.services import orders

    inner, inner_mark = PaperBroker.place_market_order, orders._mark_sent

    def mark_sent(order):
        if order.purpose == "open" and _first(fault_dir):
            (fault_dir / f"held-{os.getpid()}").touch()
            while not (fault_dir / "go").exists():
                time.sleep(0.05)
        return inner_mark(order)

    def place_market_order(self, order):
        opening = order.position_ticket is None
        outcome = inner(self, order)
        if mode == "kill_after_accept" and opening and _first(fault_dir):
            (fault_dir / f"killed-{os.getpid()}").touch()
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "lost_answer" and opening and _first(fault_dir):
            raise TemporaryBrokerError("timed out waiting for the broker's answer (injected)")
        return outcome

    if mode == "hold":
        orders._mark_sent = mark_sent
    elif mode != "plain":
        PaperBroker.place_market_order = place_market_order


def main(argv: list[str]) -> None:
    mode, fault_dir, rest = argv[0], Path(argv[1]), argv[2:]
    import django

    django.setup()
    install(mode, fault_dir)
    from nusatrade.celery import app

    app.worker_main(["worker", *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
