"""/healthz: is each service this process depends on reachable? JSON, 200 or 503.

Each check is bounded by its client's connect and read timeouts (caches: REDIS_SOCKET_*,
broker: HEALTHZ_TIMEOUT; database: DB_CONNECT_TIMEOUT), so a dependency that accepts
connections and never answers costs about a second and is named in the 503, instead of
holding the probe (and a web thread) forever.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _timed(check: Callable[[], str]) -> dict:
    started = time.perf_counter()
    try:
        detail, ok = check(), True
    except Exception as exc:  # any failure of a dependency is a health answer, not a 500
        detail, ok = f"{type(exc).__name__}: unreachable or not answering", False
    return {"ok": ok, "detail": detail,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _check_cache(alias: str) -> Callable[[], str]:
    def check() -> str:
        cache = caches[alias]
        # The default cache ignores Redis errors by design (a failed call returns None), so
        # only a confirmed write proves a round trip: add() is SET NX, True on the server's
        # reply. A key per request: concurrent probes must not see each other's key. One
        # command, not three, when Redis hangs: the probe costs a single socket timeout.
        key = f"healthz:{secrets.token_hex(8)}"
        if not cache.add(key, "1", 10):
            raise ConnectionError("cache write not confirmed")
        cache.delete(key)
        return type(cache).__name__
    return check


def _check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (embedded default: tasks run in-process)"
    from kombu import Connection

    timeout = settings.HEALTHZ_TIMEOUT
    # Redis: kombu ignores connect_timeout and passes socket_* from the transport options to
    # redis-py; without a read timeout the channel's PING on a hung Redis never returns.
    # RabbitMQ (py-amqp) spells its read/write timeouts differently; each ignores the other's.
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS,
               "socket_connect_timeout": timeout, "socket_timeout": timeout,
               "read_timeout": timeout, "write_timeout": timeout}
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=timeout,
                    transport_options=options) as conn:
        conn.ensure_connection(max_retries=0, timeout=timeout)
        return f"{conn.transport_cls} connected"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": _timed(_check_database),
        "cache": _timed(_check_cache("default")),
        "ratelimit_cache": _timed(_check_cache("ratelimit")),
        "broker": _timed(_check_broker),
    }
    healthy = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": checks},
                        status=200 if healthy else 503)
