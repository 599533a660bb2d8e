"""The paper broker: market data from stored bars (continued synthetically) and a simulated
account persisted through a :class:`PaperStore` (pure: no Django; the database store lives in
the ``trading.paper`` app). See docs/trading.md, "The paper broker"."""

from __future__ import annotations

from trading.brokers.paper.book import (
    MemoryStore,
    PaperBook,
    PaperPosition,
    PaperSettings,
    PaperStore,
)
from trading.brokers.paper.broker import HistoryLoader, PaperBroker
from trading.brokers.paper.clock import ManualClock

__all__ = ["HistoryLoader", "ManualClock", "MemoryStore", "PaperBook", "PaperBroker",
           "PaperPosition", "PaperSettings", "PaperStore"]
