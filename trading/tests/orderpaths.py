"""Shared set-up of the order-path acceptance tests on the paper broker: stored bars around a
fixed weekday clock (the market is open; tests do not depend on the day they run), an ML model
row, and the environment a subprocess or worker needs to reach the test database."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from django.db import connection

from accounts.models import TradingAccount, User
from marketdata import synthetic
from marketdata.services import bars_upsert
from mlops.models import MLModel
from trading.models import Instrument, Signal
from trading.services import account_create, signal_record

ROOT = Path(__file__).resolve().parents[2]
# A Wednesday, mid-session: the paper broker fills at the open of the H1 bar holding it.
AT = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
BAR = datetime(2026, 11, 25, 9, tzinfo=UTC)      # the closed bar the decision was taken on


def store_bars(start: str = "2026-11-09", end: str = "2026-11-28") -> pd.DataFrame:
    """XAUUSD H1 bars around AT in the database (the paper broker's market)."""
    frame = synthetic.generate_range(start, end, "H1", seed=11, symbol="XAUUSD",
                                     start_price=2350.0)
    bars_upsert("XAUUSD", "H1", frame, synthetic=True)
    return frame


def paper_account(username: str = "trader", name: str = "paper 1") -> TradingAccount:
    User.objects.get_or_create(username=username)
    return account_create(username, name=name, broker="paper")


def ml_model(name: str = "rf") -> MLModel:
    return MLModel.objects.create(
        name=name, version=1, algorithm="random_forest", feature_set_id="fs",
        instrument=Instrument.objects.get(symbol="XAUUSD"), timeframe="H1",
        data_start=AT - timedelta(days=400), data_end=AT - timedelta(days=30),
        artifact_path="none.skops", artifact_sha256="0" * 64)


def buy_signal(account: TradingAccount, model: MLModel | None) -> Signal:
    return signal_record(account.pk, model_id=model.pk if model else None, symbol="XAUUSD",
                         bar_time=BAR, decision="BUY", timeframe="H1",
                         probabilities={"BUY": 0.71, "SELL": 0.12, "HOLD": 0.17},
                         reason="acceptance")


def subprocess_env() -> dict[str, str]:
    """The environment of a process that must see this test's database (committed rows)."""
    db = connection.settings_dict
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    return {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE":
            "nusatrade.settings", "CELERY_TASK_ALWAYS_EAGER": "false",
            "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"}


PLACER = '''
import json, os, signal, sys, time
from datetime import datetime

import django

django.setup()

from trading.services import paper_broker_at, signal_order_place
from trading.models import Signal

signal_id, at, gate, mode = int(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), \\
    sys.argv[3], sys.argv[4]
account = Signal.objects.select_related("account").get(pk=signal_id).account
inner = broker = paper_broker_at(account, at)


class KilledAfterTheBrokerAccepted:
    """SIGKILL this process after the broker's answer, before the database records it."""

    def __getattr__(self, name):
        return getattr(inner, name)

    def place_market_order(self, order):
        inner.place_market_order(order)
        os.kill(os.getpid(), signal.SIGKILL)


if mode == "kill":
    broker = KilledAfterTheBrokerAccepted()
if gate:                            # a barrier: every process starts at the same instant
    open(os.path.join(gate, f"ready-{os.getpid()}"), "w").close()
    while not os.path.exists(os.path.join(gate, "go")):
        time.sleep(0.0005)
result = signal_order_place(signal_id, broker=broker)
print(json.dumps({"order": result.order.pk, "status": result.order.status,
                  "created": result.created, "sent": result.sent,
                  "in_progress": result.in_progress}))
'''


def placer_command(signal_id: int, gate: Path | None = None, mode: str = "place") -> list[str]:
    """A process placing ``signal_id``'s order; with ``gate`` (a directory) it reports ready
    there and waits for a ``go`` file, so many processes can be released at once."""
    return [sys.executable, "-c", PLACER, str(signal_id), AT.isoformat(), str(gate or ""),
            mode]


def release_when_ready(gate: Path, count: int, timeout: float = 600) -> None:
    """Wait until ``count`` processes are ready at ``gate`` (Django set up), then release them."""
    import time

    deadline = time.monotonic() + timeout
    while len(list(gate.glob("ready-*"))) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(gate.glob('ready-*')))} of {count} ready")
        time.sleep(0.05)
    (gate / "go").touch()
