"""The trading cycle: orchestration at the top of the layer ladder (docs/auto-trading.md).

Kept import-light on purpose: importing ``trading.cycle`` loads no model, broker or ML code, so
a pure submodule (``trading.cycle.freshness``) stays importable from a notebook and nothing
below the cycle pays for it. Import the submodules you need.
"""
