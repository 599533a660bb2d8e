"""Lazy re-exports for packages whose submodules are heavy (pandas, numba, scikit-learn).

A package ``__init__`` that re-exports names from its submodules would import all of them at
``django.setup()`` (the admin and the API import the service packages). With
``__getattr__ = lazy_exports(__name__, {...})`` (PEP 562) each name is imported from its
submodule on first use, then cached in the package, so ``django.setup()`` and
``manage.py check`` stay light (tests/test_startup.py guards it).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: ``exports`` maps each name to the module
    (absolute dotted path) that defines it."""

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    return __getattr__
