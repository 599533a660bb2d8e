"""The pure core never imports Django (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

PURE = ["trading.pnl", "trading.risk", "backtests.engine", "backtests.metrics",
        "backtests.sweep", "backtests.report"]


def test_pure_modules_do_not_import_django() -> None:
    code = ("import sys\n"
            + "".join(f"import {name}\n" for name in PURE)
            + "print(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('django', 'celery', 'rest_framework')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": ".", "PATH": ""}, cwd=_root())
    assert out.stdout.strip() == "[]"


def _root() -> str:
    from pathlib import Path
    return str(Path(__file__).resolve().parents[2])
