"""Celery queues: trading, training and maintenance work each on a queue of its own.

A long training run or backtest must never delay a trading cycle; alerts, backups and
reconciliation must not wait behind either. Routing is by task name (settings
``CELERY_TASK_ROUTES``); docs/auto-trading.md lists the worker command per queue.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from nusatrade.celery import app

QUEUES = {"celery", "trading", "training", "maintenance"}


def queue_of(task_name: str, **options) -> str:
    return app.amqp.router.route(dict(options), task_name)["queue"].name


@pytest.mark.parametrize(("task_name", "queue"), [
    ("trading.cycle", "trading"),
    ("trading.cycle_account", "trading"),
    ("marketdata.fetch_bars", "trading"),
    ("mlops.compute_features", "training"),
    ("mlops.predict", "training"),
    ("mlops.train", "training"),
    ("backtests.run_backtest", "training"),
    ("readiness.run", "training"),
    ("nusatrade.alerts.send", "maintenance"),
    ("maintenance.backup", "maintenance"),
    ("trading.reconcile", "maintenance"),
    ("trading.reconcile_account", "maintenance"),
    ("nusatrade.ping", "celery"),
    ("marketdata.something_else", "celery"),
])
def test_tasks_are_routed_by_name(task_name, queue):
    assert queue_of(task_name) == queue


def test_an_explicit_queue_overrides_the_route():
    # The real-worker test fixture sends to a private queue with apply_async(queue=...).
    assert queue_of("trading.cycle", queue="test-private") == "test-private"
    assert queue_of("backtests.run_backtest", queue="test-private") == "test-private"


def test_every_registered_task_lands_on_a_documented_queue():
    app.loader.import_default_modules()
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    assert "nusatrade.alerts.send" in ours and "backtests.run_backtest" in ours
    assert {name: queue_of(name) for name in ours if queue_of(name) not in QUEUES} == {}


def test_the_worker_commands_in_the_docs_cover_every_queue():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "auto-trading.md").read_text()
    for queue in QUEUES - {"celery"}:
        assert f"-Q {queue}" in docs
    assert "-Q celery,trading,training,maintenance" in docs  # the one-worker setup


@pytest.fixture
def maintenance_worker(monkeypatch, tmp_path):
    """A real worker consuming only the real ``maintenance`` queue (Redis db of this run)."""
    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false", "ALERT_EMAILS": "",
           "ALERT_WEBHOOK_URL": ""}
    hostname = f"maintenance-{uuid.uuid4().hex[:8]}@localhost"
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "nusatrade", "worker", "--pool=solo",
         "-Q", "maintenance", "-n", hostname, "--without-heartbeat", "--without-gossip",
         "--without-mingle", "-l", "INFO"],
        cwd=Path(__file__).resolve().parents[2], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[hostname], timeout=1.0):
            assert proc.poll() is None, "worker exited"
            assert time.monotonic() < deadline, "worker never answered"
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.mark.services("redis")
def test_a_maintenance_worker_runs_alerts_and_leaves_other_queues_alone(maintenance_worker,
                                                                        settings):
    import redis

    from nusatrade.alerts.message import AlertKind, alert_build
    from nusatrade.tasks import ping, send_alert

    alert = alert_build(AlertKind.TEST, "routing check")
    waiting = ping.delay("for the default queue")  # routed to "celery": nobody consumes it
    answer = send_alert.delay(alert.as_dict()).get(timeout=60)  # routed to "maintenance"
    assert answer["kind"] == "test" and answer["status"] == "not_configured"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert client.llen("celery") == 1 and client.llen("maintenance") == 0
    assert waiting.state == "PENDING"
    client.delete("celery")
