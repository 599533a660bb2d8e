"""Readiness is orchestration, the top of the ladder (CONVENTIONS "Layers"): nothing imports
it but the URL conf, the API, the admin, the dashboard's one panel and ``make demo``."""

from __future__ import annotations

import ast

from tests.helpers import ROOT

# (file, module imported): the only places outside readiness/ that may import it (the URL
# conf names "readiness.api.urls" as a string; the admin is discovered by Django).
ALLOWED = {("monitoring/views.py", "readiness.selectors"),
           ("trading/tests/test_api_permissions.py", "readiness.tests.factories"),
           # make demo runs the whole plan: it sits above every layer, readiness included
           ("nusatrade/management/commands/demo.py", "readiness"),
           ("nusatrade/management/commands/demo.py", "readiness.models"),
           ("nusatrade/management/commands/demo.py", "readiness.output"),
           ("nusatrade/tests/test_demo_readiness.py", "readiness.models")}


def readiness_imports() -> set[tuple[str, str]]:
    found = set()
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("readiness/", "bench/", ".venv/", "var/")):  # bench: top-level scripts
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found |= {(rel, n) for n in names if n.split(".")[0] == "readiness"}
    return found


def test_nothing_below_imports_readiness():
    assert readiness_imports() - ALLOWED == set()
