"""The paper broker: market data from stored bars (continued synthetically) and a simulated
account persisted through a :class:`PaperStore` (pure: no Django; the database store lives in
the ``trading.paper`` app). See docs/trading.md, "The paper broker"."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trading.brokers.paper.book import (
        MemoryStore,
        PaperBook,
        PaperPosition,
        PaperSettings,
        PaperStore,
    )
    from trading.brokers.paper.broker import HistoryLoader, PaperBroker
    from trading.brokers.paper.clock import ManualClock

# Loaded on first use (PEP 562), so importing ``trading.brokers.paper.defaults`` stays light.
_LAZY = {
    "MemoryStore": "book", "PaperBook": "book", "PaperPosition": "book",
    "PaperSettings": "book", "PaperStore": "book", "HistoryLoader": "broker",
    "PaperBroker": "broker", "ManualClock": "clock",
}

__all__ = ["HistoryLoader", "ManualClock", "MemoryStore", "PaperBook", "PaperBroker",
           "PaperPosition", "PaperSettings", "PaperStore"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
