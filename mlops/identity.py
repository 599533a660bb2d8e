"""A model's identity: the fingerprint of everything that decides what its inputs mean (pure).

A model is only valid with the exact feature code it was trained with. The feature-set id
hashes names and parameters; a fix inside a formula keeps it unchanged, so a model trained on
a leaky feature would keep its id, pass the look-ahead check on the fixed code and be
activated. The fingerprint closes that hole. Its components (stored as they are, not only
hashed, so a mismatch can say WHAT changed):

- ``feature_set``: the feature-set id and its options (e.g. the day boundary);
- ``feature_code``: a hash per top-level function, class and module body of every module that
  computes a column (the syntax tree without docstrings: comments, formatting and docstrings
  may change, code may not);
- ``libraries``: numpy, TA-Lib (Python and C) and numba versions, which compute the columns;
- ``label``: the label spec;
- ``bars``: where the training bars came from (symbol, timeframe, synthetic flag, the bars'
  SHA-256, the imports that stored them).

``fingerprint_hash`` is the SHA-256 of the canonical JSON of the components.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import inspect
import json
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from nusatrade.errors import ConfigurationError

COMPONENTS = ("feature_set", "feature_code", "libraries", "label", "bars")
# Components that follow the code on this machine; "label" and "bars" are facts of training.
CODE_COMPONENTS = ("feature_set", "feature_code", "libraries")
MODULE_BODY = "<module body>"


class FingerprintMismatch(ConfigurationError):
    """The model's fingerprint does not match the code (or its own record): do not use it."""

    def __init__(self, message: str, changes: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.changes = list(changes)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint_hash(components: Mapping[str, Any]) -> str:
    """SHA-256 hex of the components' canonical JSON."""
    return hashlib.sha256(canonical_json(components).encode()).hexdigest()


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _digest(node: ast.AST) -> str:
    return hashlib.sha256(ast.dump(_strip_docstrings(node)).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def source_digests(source: str, prefix: str) -> dict[str, str]:
    """{``prefix.name``: hash} per top-level def/class of ``source``, and one entry for the rest
    of the module body (constants, imports, assignments)."""
    tree = ast.parse(textwrap.dedent(source))
    out: dict[str, str] = {}
    rest: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out[f"{prefix}.{node.name}"] = _digest(node)
        else:
            rest.append(node)
    if rest:
        out[f"{prefix}.{MODULE_BODY}"] = _digest(ast.Module(body=rest, type_ignores=[]))
    return out


def code_digests(code: Iterable[str | Callable[..., Any]]) -> dict[str, str]:
    """Hashes of the given modules (dotted names) and callables (their own source)."""
    out: dict[str, str] = {}
    for item in code:
        if isinstance(item, str):
            module = importlib.import_module(item)
            out.update(source_digests(inspect.getsource(module), item))  # cached per source
            continue
        func = getattr(item, "func", item)  # functools.partial
        name = f"{func.__module__}.{func.__qualname__}"
        out.update(source_digests(inspect.getsource(func), name.rsplit(".", 1)[0]))
    return dict(sorted(out.items()))


def library_versions() -> dict[str, str]:
    """Versions of the libraries that compute feature columns (numba compiles the kernels)."""
    import numba
    import numpy
    import talib

    c_version = talib.__ta_version__
    if isinstance(c_version, bytes):
        c_version = c_version.decode()
    return {"numpy": numpy.__version__, "ta-lib": talib.__version__,
            "ta-lib C": str(c_version).split(" ")[0], "numba": numba.__version__,
            "python": f"{sys.version_info.major}.{sys.version_info.minor}"}


def components(*, feature_set: Mapping[str, Any], feature_code: Mapping[str, str],
               label: Mapping[str, Any], bars: Mapping[str, Any],
               libraries: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The fingerprint components in their stored (JSON) form."""
    return json.loads(canonical_json({
        "feature_set": dict(feature_set), "feature_code": dict(feature_code),
        "libraries": dict(library_versions() if libraries is None else libraries),
        "label": dict(label), "bars": dict(bars),
    }))


def _dict_changes(kind: str, stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    lines = []
    for key in sorted(set(stored) | set(current)):
        if key not in current:
            lines.append(f"{kind}: {key} removed")
        elif key not in stored:
            lines.append(f"{kind}: {key} added")
        elif stored[key] != current[key]:
            if kind == "feature code":
                lines.append(f"{kind}: {key} changed")
            else:
                lines.append(f"{kind}: {key} {stored[key]!r} -> {current[key]!r}")
    return lines


def describe_changes(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """One line per difference, naming the component and the item that changed."""
    names = {"feature_set": "feature set", "feature_code": "feature code",
             "libraries": "library", "label": "label spec", "bars": "bars source"}
    lines: list[str] = []
    for part in COMPONENTS:
        a, b = stored.get(part, {}), current.get(part, {})
        if a != b:
            lines += _dict_changes(names[part], a, b) or [f"{names[part]} changed"]
    return lines
