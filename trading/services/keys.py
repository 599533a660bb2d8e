"""Idempotency keys: what makes two requests "the same order" (stored UNIQUE on ``Order``).

- a model's decision: account, model, bar time and purpose (a late or repeated cycle, or a
  redelivered task, for the same bar is the same order);
- a manual order: account and the client order id the caller chose (a retried request with the
  same id is the same order); no id given: a fresh one, so each call is a new order;
- closing a position: account and position (one close order per position).

The broker sees ``client_id_for(key)`` (short ASCII, in the order comment) and the magic.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

MAX_CLIENT_ORDER_ID = 64


def decision_key(account_id: int, model_id: int | None, bar_time: datetime,
                 purpose: str = "open") -> str:
    when = bar_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"acct:{account_id}|model:{model_id or 'manual'}|bar:{when}|{purpose}"


def manual_key(account_id: int, client_order_id: str | None) -> str:
    """The key of a manual order; raises ValueError for an unusable client order id."""
    if client_order_id is None:
        client_order_id = uuid.uuid4().hex
    text = client_order_id.strip()
    if not text or len(text) > MAX_CLIENT_ORDER_ID or not text.isprintable():
        raise ValueError(f"client order id must be 1 to {MAX_CLIENT_ORDER_ID} printable "
                         "characters")
    return f"acct:{account_id}|client:{text}"


def close_key(account_id: int, position_id: int) -> str:
    return f"acct:{account_id}|close:position:{position_id}"
