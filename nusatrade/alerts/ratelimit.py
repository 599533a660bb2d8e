"""One alert per (kind, key) per window; the ones held back are counted and reported.

A flapping condition (a broker that disconnects every minute) must not flood the on-call
channel, yet nobody should lose the fact that it kept happening: the first alert of a window
goes out, later ones are counted, and the next alert that goes out says how many were held.

State lives in the default cache with atomic operations only: ``cache.add`` (Redis ``SET NX``)
opens a window exactly once however many processes race, and the count uses ``incr``/``decr``.
If the cache is down the gate *fails open* (the alert goes out, flagged ``degraded``): a flood
during an outage is better than silence when something is wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass

logger = logging.getLogger("nusatrade.alerts")

# How long a suppressed count waits for the next alert of its kind and key.
COUNT_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Gate:
    allowed: bool
    suppressed_before: int = 0
    degraded: bool = False


def _names(kind: str, key: str) -> tuple[str, str]:
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"alerts:gate:{kind}:{digest}", f"alerts:suppressed:{kind}:{digest}"


def gate_key(kind: str, key: str) -> str:
    """The cache key holding (kind, key)'s open window (tests expire it by deleting it)."""
    return _names(kind, key)[0]


def _take_count(cache, count_key: str, count: int) -> int:
    """Take ``count`` (read BEFORE the window opened) off the counter and report it.

    Read before, not after, opening: alerts held back by the window we just opened are counted
    by racing processes in the meantime, and belong to the NEXT alert, not to this one (found by
    16 threads racing on real Redis: the opener swallowed some of its own window's count).
    """
    if count:
        # decr, not delete: an increment racing with us stays counted for the next alert (and
        # ValueError: the counter expired in between).
        with contextlib.suppress(ValueError):
            cache.decr(count_key, count)
    return count


def _bump_count(cache, count_key: str) -> None:
    try:
        cache.incr(count_key)
    except ValueError:  # no counter yet
        if not cache.add(count_key, 1, timeout=COUNT_TTL_SECONDS):
            cache.incr(count_key)


def rate_gate(kind: str, key: str, window_seconds: int, cache) -> Gate:
    """Whether an alert of (``kind``, ``key``) may go out now, and how many were held back
    since the last one that did. ``window_seconds <= 0`` turns the limit off."""
    if window_seconds <= 0:
        return Gate(True)
    window_key, count_key = _names(kind, key)
    try:
        held_back = int(cache.get(count_key) or 0)
        opened = cache.add(window_key, 1, timeout=window_seconds)
        if opened is None:  # django-redis with IGNORE_EXCEPTIONS: the cache is down
            raise ConnectionError("cache unavailable")
        if opened:
            return Gate(True, _take_count(cache, count_key, held_back))
        _bump_count(cache, count_key)
        return Gate(False)
    except Exception as exc:
        logger.warning("alert rate limit unavailable (%s); sending %s alert anyway",
                       type(exc).__name__, kind)
        return Gate(True, degraded=True)
