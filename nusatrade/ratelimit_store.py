"""Sliding-window counters for the rate limiter: one atomic Lua script in Redis, or memory.

A fixed one-minute window (django-ratelimit's) lets ``2 x limit`` attempts through across a
window boundary (the last seconds of one minute and the first of the next). A sliding *log*
keeps the time of each counted attempt in a sorted set and admits a new one only while fewer
than ``limit`` lie in the last ``window`` seconds, so no span of ``window`` seconds ever holds
more than ``limit``. It costs ``limit`` small entries per key (10-60 here).

One script call checks every key of a request and records it in all of them, atomically: two
concurrent attempts cannot both take the last slot, and an attempt refused by one key is
counted in none (an attacker held at the limit still gets exactly ``limit`` per window).

``now`` comes from the web server's clock (NTP-synchronised hosts agree within milliseconds;
it also lets tests move time).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass

from django.core.cache import caches

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    window: float  # seconds

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"10/m"``, ``"20/15m"``, ``"3/d"`` (django-ratelimit's format)."""
        match = _RATE.match(text or "")
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"bad rate {text!r}: use N/[k]s|m|h|d, e.g. 10/m or 20/15m")
        count, multiplier, unit = match.groups()
        return cls(int(count), int(multiplier or 1) * _UNITS[unit])


@dataclass(frozen=True)
class Window:
    """A counter to check: ``key`` at ``rate``; ``bypass_key`` set in the store skips the
    check (the attempt is still recorded)."""

    key: str
    rate: Rate
    bypass_key: str = ""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the refusing window admits one more
    refused_by: str = ""  # the key that refused


# KEYS: the windows' keys, then their bypass keys ("" -> none). ARGV: now_ms, member, then per
# window limit and window_ms. Pass 1 checks every window; pass 2 records in all of them.
_LUA = """
local n = #KEYS / 2
local now = tonumber(ARGV[1])
for i = 1, n do
  local limit, window = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local bypass = KEYS[n + i] ~= '' and redis.call('EXISTS', KEYS[n + i]) == 1
  if not bypass and redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    return {0, tonumber(oldest[2]) + window - now, i}
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 + 2 * i]))
end
return {1, 0, 0}
"""


class RedisWindows:
    """The store on the django-redis cache ``alias`` (keys get that cache's prefix)."""

    def __init__(self, alias: str) -> None:
        self.cache = caches[alias]

    def _client(self):
        return self.cache.client.get_client(write=True)

    def key(self, name: str) -> str:
        return self.cache.make_key(name)

    def hit(self, windows: list[Window], member: str, now: float) -> Verdict:
        client = self._client()
        keys = [w.key for w in windows] + [w.bypass_key for w in windows]
        args: list[object] = [int(now * 1000), member]
        for w in windows:
            args += [w.rate.limit, int(w.rate.window * 1000)]
        allowed, wait_ms, index = client.register_script(_LUA)(keys=keys, args=args)
        if allowed:
            return Verdict(True)
        return Verdict(False, max(math.ceil(int(wait_ms) / 1000), 1), windows[int(index) - 1].key)

    def forget(self, key: str, member: str) -> None:
        self._client().zrem(key, member)

    def mark(self, key: str, ttl: float) -> None:
        self._client().set(key, "1", ex=max(int(ttl), 1))


class MemoryWindows:
    """The same semantics on a local-memory cache (the embedded default without Redis, some
    tests): per process only, kept in the cache so that clearing it resets the counters."""

    _lock = threading.Lock()

    def __init__(self, alias: str) -> None:
        self.cache = caches[alias]

    def key(self, name: str) -> str:
        return name

    def hit(self, windows: list[Window], member: str, now: float) -> Verdict:
        with self._lock:
            logs = {}
            for w in windows:
                log = [e for e in self.cache.get(w.key, []) if e[0] > now - w.rate.window]
                logs[w.key] = log
                bypass = w.bypass_key and self.cache.get(w.bypass_key) is not None
                if not bypass and len(log) >= w.rate.limit:
                    wait = log[0][0] + w.rate.window - now
                    return Verdict(False, max(math.ceil(wait), 1), w.key)
            for w in windows:
                self.cache.set(w.key, [*logs[w.key], (now, member)], timeout=w.rate.window)
            return Verdict(True)

    def forget(self, key: str, member: str) -> None:
        with self._lock:
            log = self.cache.get(key, [])
            # No expiry here (the window is not known): hit() drops entries older than it.
            self.cache.set(key, [e for e in log if e[1] != member], timeout=None)

    def mark(self, key: str, ttl: float) -> None:
        self.cache.set(key, 1, timeout=ttl)


def windows_store(alias: str) -> RedisWindows | MemoryWindows:
    """Redis when the cache ``alias`` is django-redis, else this process's memory."""
    backend = caches[alias]
    if type(backend).__module__.startswith("django_redis"):
        return RedisWindows(alias)
    return MemoryWindows(alias)
