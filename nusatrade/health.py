"""/healthz: is each service this process depends on reachable? JSON, 200 or 503."""

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
        detail, ok = f"{type(exc).__name__}: unreachable", False
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
        # The default cache ignores Redis errors by design, so a round trip is the only proof.
        # A key per request: concurrent probes must not overwrite each other's value.
        key = f"healthz:{secrets.token_hex(8)}"
        cache.set(key, "1", 10)
        try:
            if cache.get(key) != "1":
                raise ConnectionError("cache round trip failed")
        finally:
            cache.delete(key)
        return type(cache).__name__
    return check


def _check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (embedded default: tasks run in-process)"
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=0, timeout=2)
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
