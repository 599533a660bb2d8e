"""The per-order send lock: at most one process talks to the broker about one order.

A PostgreSQL SESSION advisory lock, taken without waiting (``pg_try_advisory_lock``): unlike a
row lock it survives the commit that marks the order ``sent`` before the broker call, so the
"sent" mark is durable while the lock is still held for the call and for recording its answer.
A holder that dies (SIGKILL, lost connection) releases it with its connection, leaving the row
``sent``: the next holder knows a send may have happened and looks the order up at the broker
instead of sending again.

Other databases (the SQLite demo: one process) have no such lock; the demo never runs two
senders at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import Error, connection

# Namespace in the 64-bit advisory key space ("NT" + "OR"), so other locks never collide.
_NAMESPACE = 0x4E54_4F52 << 32


def _key(order_id: int) -> int:
    return _NAMESPACE | (int(order_id) & 0xFFFF_FFFF)


@contextlib.contextmanager
def order_send_lock(order_id: int) -> Iterator[bool]:
    """Yield True when this process now holds the order's lock, False when another does."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_key(order_id)])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            # A broken connection has released the lock already.
            with contextlib.suppress(Error), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_key(order_id)])
