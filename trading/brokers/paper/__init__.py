"""The paper broker: market data from stored bars (continued synthetically) and a simulated
account persisted through a :class:`PaperStore` (pure: no Django; the database store lives in
the ``trading.paper`` app). See docs/trading.md, "The paper broker"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nusatrade.lazy import lazy_exports

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
_LAZY = {name: f"{__name__}.{module}" for name, module in {
    "MemoryStore": "book", "PaperBook": "book", "PaperPosition": "book",
    "PaperSettings": "book", "PaperStore": "book", "HistoryLoader": "broker",
    "PaperBroker": "broker", "ManualClock": "clock",
}.items()}

__all__ = ["HistoryLoader", "ManualClock", "MemoryStore", "PaperBook", "PaperBroker",
           "PaperPosition", "PaperSettings", "PaperStore"]


__getattr__ = lazy_exports(__name__, _LAZY)
