"""The web worker's boot warm-up (deploy/gunicorn.conf.py ``post_worker_init`` ->
``monitoring.dashboard.warm_up``): it imports the dashboard's heavy modules, and a failure
is logged without taking the worker down."""

from __future__ import annotations

import runpy
import subprocess
import sys
from typing import Any

from tests.helpers import ROOT, clean_env

CONFIG = ROOT / "deploy" / "gunicorn.conf.py"


class Log:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def exception(self, message: str) -> None:
        self.errors.append(message)


def test_warm_up_imports_what_the_first_dashboard_load_needs() -> None:
    code = ("import django, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
            "'nusatrade.settings'); django.setup(); "
            "before = {m for m in ('pandas', 'numba', 'monitoring.tracker') if m in sys.modules}; "
            "from monitoring.dashboard import warm_up; warm_up(); "
            "after = {m for m in ('pandas', 'numba', 'monitoring.tracker') if m in sys.modules}; "
            "print(sorted(before), sorted(after))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == \
        "[] ['monitoring.tracker', 'numba', 'pandas']"


def test_the_worker_hook_runs_it_and_survives_its_failure(monkeypatch: Any) -> None:
    from monitoring import dashboard

    hook = runpy.run_path(str(CONFIG))["post_worker_init"]
    worker = type("Worker", (), {"log": Log()})()
    calls: list[str] = []
    monkeypatch.setattr(dashboard, "warm_up", lambda: calls.append("warm"))
    hook(worker)
    assert calls == ["warm"] and worker.log.errors == []

    def broken() -> None:
        raise ImportError("numba missing")

    monkeypatch.setattr(dashboard, "warm_up", broken)
    hook(worker)  # does not raise: the worker keeps serving
    assert worker.log.errors == ["dashboard warm-up failed"]
