"""Layers import downward only (CONVENTIONS "Layers"): ``marketdata`` takes nothing from
``trading`` but the ``Instrument`` model, and the MT5 modules stay pure."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, clean_env

ALLOWED_FROM_TRADING = {("trading.models", "Instrument")}
PURE_BROKER_MODULES = ["trading.brokers.mt5", "trading.brokers.mt5_constants",
                       "trading.brokers.mt5_records", "trading.brokers.mt5_trading",
                       "trading.brokers.mt5sim_trade", "trading.brokers.mt5sim_server",
                       "trading.brokers.mt5sim_book",
                       "trading.brokers.retcodes",
                       "trading.fills"]


def trading_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every import of ``trading`` in a file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, "*") for alias in node.names
                      if alias.name.split(".")[0] == "trading"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "trading":
            found += [(node.module, alias.name) for alias in node.names]
    return found


def marketdata_sources() -> list[Path]:
    skip = {"tests", "migrations"}
    return [p for p in (ROOT / "marketdata").rglob("*.py")
            if not skip & set(p.relative_to(ROOT).parts)]


def test_marketdata_imports_nothing_from_trading_but_the_instrument_model():
    offending = {str(path.relative_to(ROOT)): sorted(set(imports) - ALLOWED_FROM_TRADING)
                 for path in marketdata_sources() if (imports := trading_imports(path))}
    offending = {path: bad for path, bad in offending.items() if bad}
    assert offending == {}, f"marketdata reaches up into trading: {offending}"


def test_the_checker_catches_a_broker_import(tmp_path):
    source = tmp_path / "live.py"
    source.write_text("from trading.brokers import broker_for\nimport trading.tasks\n"
                      "def f():\n    from trading.models import Instrument, Order\n")
    assert set(trading_imports(source)) - ALLOWED_FROM_TRADING == {
        ("trading.brokers", "broker_for"), ("trading.tasks", "*"), ("trading.models", "Order")}


@pytest.mark.parametrize("module", PURE_BROKER_MODULES)
def test_mt5_modules_import_no_django_and_never_metatrader5(module):
    code = (f"import sys, {module}; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('django', 'celery', 'rest_framework', 'MetaTrader5', 'mt5linux'));"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{module} imports: {result.stdout}{result.stderr}"
