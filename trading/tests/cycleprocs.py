"""Real Celery worker and beat processes for the cycle acceptance tests (not a test module).

The worker runs the prefork pool (as production does), on a private queue, through
``trading.tests.cycle_worker`` (optionally with one injected paper-broker fault); beat runs
the DatabaseScheduler on the test database. Both see the rows the (transactional) test
committed and inherit ``settings.ARTIFACTS_DIR`` (the trained model's files).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings

from trading.tests.orderpaths import ROOT, subprocess_env


def _env() -> dict[str, str]:
    return {**subprocess_env(), "ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR)}


class Worker:
    """``with Worker(tmp_path) as worker: task.apply_async(..., queue=worker.queue)``."""

    def __init__(self, tmp_path: Path, *, mode: str = "plain", concurrency: int = 2,
                 queue: str | None = None) -> None:
        self.queue = queue or f"test-{uuid.uuid4().hex[:8]}"
        self.fault_dir = tmp_path / f"faults-{self.queue}"
        self.fault_dir.mkdir(exist_ok=True)
        self.mode, self.concurrency = mode, concurrency
        self.log_path = tmp_path / f"worker-{self.queue}-{uuid.uuid4().hex[:4]}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def hostname(self) -> str:
        return f"{self.queue}@localhost"

    def start(self) -> Worker:
        from nusatrade.celery import app

        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trading.tests.cycle_worker", self.mode,
             str(self.fault_dir), "--pool=prefork", f"--concurrency={self.concurrency}",
             "-Q", self.queue, "-n", self.hostname, "--without-gossip", "--without-mingle",
             "-l", "INFO"],
            cwd=ROOT, env=_env(), stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}: {self.log()}")
            if app.control.ping(destination=[self.hostname], timeout=1.0):
                return self
        raise RuntimeError(f"worker {self.hostname} not ready in 90 s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-3000:]

    def stop(self) -> None:
        if self.proc is None:
            return
        _stop(self.proc)
        self._log.close()
        self.proc = None

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Beat:
    """One beat process on the DatabaseScheduler, waking at least every second."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.log_path = tmp_path / "beat.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Beat:
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "nusatrade", "beat", "-l", "INFO",
             "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
             "--max-interval", "1", "--pidfile", str(self.tmp_path / "beat.pid"),
             "--schedule", str(self.tmp_path / "beat-schedule")],
            cwd=ROOT, env=_env(), stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return self.log_path.read_text()[-3000:]

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            _stop(self.proc)
        self._log.close()


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(predicate, timeout: float = 120, what: str = "condition", log=None) -> None:
    """Poll ``predicate`` until true; TimeoutError naming ``what`` (and a process log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not reached in {timeout:.0f} s" + (f"\n{log()}" if log else ""))
