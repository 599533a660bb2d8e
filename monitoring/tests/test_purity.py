"""The tracker, drift and chart cores import no Django (usable from a notebook, tested
without a database)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT, clean_env


@pytest.mark.parametrize("module", ["monitoring.tracker", "monitoring.drift",
                                    "monitoring.svg", "monitoring.charts"])
def test_core_imports_no_framework(module: str) -> None:
    code = (f"import sys, {module}; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('django', 'celery', 'rest_framework')); print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{module} imports: {result.stdout}{result.stderr}"
