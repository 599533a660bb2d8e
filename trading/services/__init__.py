"""Trading services: the writes of the order path (``order_place`` is the one that sends)."""

from __future__ import annotations

from trading.services.accounts import account_create
from trading.services.keys import close_key, decision_key, manual_key
from trading.services.orders import (
    OrderResult,
    order_place,
    order_refusal,
    paper_broker_at,
    position_close,
    volume_default,
)
from trading.services.recovery import RecoveryReport, order_recover
from trading.services.signals import signal_order_place, signal_record
from trading.services.sync import SyncReport, positions_sync

__all__ = [
    "OrderResult", "RecoveryReport", "SyncReport", "account_create", "close_key",
    "decision_key", "manual_key", "order_place", "order_recover", "order_refusal",
    "paper_broker_at", "position_close", "positions_sync", "signal_order_place", "signal_record",
    "volume_default",
]
