"""`make test` runs every app's tests: an app whose tests/ is missing from pytest's
``testpaths`` would pass CI without ever running (readiness/ nearly did)."""

from __future__ import annotations

import tomllib

from tests.helpers import ROOT


def test_every_app_with_tests_is_in_testpaths():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    testpaths = set(config["tool"]["pytest"]["ini_options"]["testpaths"])
    apps = {path.parent.parent.name for path in ROOT.glob("*/tests/__init__.py")}
    apps |= {path.parent.parent.parent.name for path in ROOT.glob("*/*/tests/__init__.py")}
    apps.discard(".venv")
    assert apps - testpaths == set(), f"tests never collected by `make test`: {apps - testpaths}"
