"""The ML core is pure: importing it never imports Django (usable from a notebook)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PURE_MODULES = ["mlops.labels", "mlops.splits", "mlops.algorithms", "mlops.gating",
                "mlops.evaluation", "mlops.pipeline", "mlops.artifacts", "mlops.lookahead",
                "mlops.stats"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_core_module_imports_no_django(module: str) -> None:
    code = (f"import sys, {module}; "
            "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'));"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"
