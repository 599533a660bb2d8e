"""Fixtures of the ML app's tests: stored bars, a trusted artifacts directory, trained models,
and a REAL Celery worker for the task tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops.pipeline import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
SMALL_RF = {"n_estimators": 30, "max_depth": 4}


@pytest.fixture
def artifacts_dir(settings: Any, tmp_path: Path) -> Path:
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    from mlops.services import clear_estimator_cache

    clear_estimator_cache()
    return settings.ARTIFACTS_DIR


@pytest.fixture
def sample_bars() -> pd.DataFrame:
    """About 2,500 gold-like H1 bars (0.4 years): enough for the production features."""
    from marketdata.synthetic import generate_bars

    return generate_bars("H1", years=0.4, seed=7)


@pytest.fixture
def live_db(transactional_db: None) -> None:
    """Committed rows (another process, e.g. a Celery worker, can see them). The migrations'
    reference rows (instruments, roles) are re-seeded for every DB test by the root conftest."""


@pytest.fixture
def stored_bars(db: None, sample_bars: pd.DataFrame) -> pd.DataFrame:
    from marketdata.services import bars_upsert

    bars_upsert("XAUUSD", "H1", sample_bars, synthetic=True)
    return sample_bars


def small_config(**changes: Any) -> TrainConfig:
    return TrainConfig(**{"params": SMALL_RF, "importance_repeats": 1, "min_trades": 20,
                          "n_jobs": 1, **changes})


@pytest.fixture
def trained_model(stored_bars: pd.DataFrame, artifacts_dir: Path) -> Any:
    """A candidate random forest on the stored bars with the production features."""
    from mlops.services import model_train

    return model_train(symbol="XAUUSD", timeframe="H1", config=small_config(), cost=0.3)


def _worker_env(queue: str) -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict  # the TEST database pytest-django created
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:"
                         f"{db['PORT'] or 5432}/{db['NAME']}"),
        "ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONPATH": str(ROOT),
    })
    return env


def _wait_until_ready(app: Any, hostname: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}")
        if app.control.ping(destination=[hostname], timeout=1.0):
            return
    raise RuntimeError(f"celery worker {hostname} did not answer within {timeout}s")


@pytest.fixture
def celery_worker(live_db: None, artifacts_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A real ``celery -A nusatrade worker --pool=solo`` on a queue of its own; yields the
    queue name. Rows the test commits (transactional_db) are visible to it."""
    from nusatrade.celery import app

    queue = f"mlops-test-{uuid.uuid4().hex[:8]}"
    hostname = f"{queue}@localhost"
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "nusatrade", "worker", "--pool=solo",
         "-Q", queue, "-n", hostname, "--without-heartbeat", "--without-gossip",
         "--without-mingle", "-l", "INFO"],
        cwd=ROOT, env=_worker_env(queue), stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(app, hostname, proc, timeout=60)
        yield queue
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
