"""The pure core imports no Django, Celery or DRF: usable from a notebook, tested without a DB."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.helpers import ROOT, clean_env

PURE_MODULES = [
    "nusatrade.errors", "nusatrade.security", "marketdata.timeframes",
    "marketdata.calendar", "marketdata.synthetic", "marketdata.resample",
    "marketdata.validation", "marketdata.importers", "marketdata.pgcopy",
    "mlops.features", "mlops.labels", "mlops.splits", "mlops.algorithms", "mlops.gating",
    "mlops.evaluation", "mlops.pipeline", "mlops.artifacts", "mlops.lookahead",
    "trading.pnl", "trading.risk", "backtests.engine", "backtests.metrics", "backtests.sweep",
    "backtests.report", "trading.brokers.base", "trading.brokers.mt5sim",
    "trading.brokers.paper", "trading.fills", "operations.dumps", "operations.s3",
    "readiness.criteria", "readiness.agreement", "readiness.report",
]
FRAMEWORKS = ("django", "celery", "rest_framework")


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_never_imports_django(module):
    assert importlib.util.find_spec(module) is not None, f"{module} is missing"
    code = (f"import sys, {module}; "
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r});"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{module} imports Django: {result.stdout}{result.stderr}"
