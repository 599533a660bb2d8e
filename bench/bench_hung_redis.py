"""Fault: every Redis client against a listener that accepts connections and never answers.

Prints the median of RUNS runs of: GET /healthz (in-process Django client) with the caches and
the broker pointed at the hung listener, per-check latencies, and enqueuing a task (broker
publish alone, and result backend + publish). Baseline in the same run: /healthz against the
real Redis of REDIS_URL (or the embedded default without it). Before the read timeouts the
hung /healthz and the enqueue never returned.

    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/bench_hung_redis.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")
os.environ.setdefault("NUSATRADE_ENV", "test")
RUNS = 5


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    try:
        outcome = function()
    except Exception as exc:  # an enqueue against the hung Redis is expected to raise
        outcome = exc
    return time.perf_counter() - started, outcome


def main() -> None:
    import django

    django.setup()
    from celery import Celery
    from django.conf import settings
    from django.test import Client, override_settings

    from nusatrade.tests.faults import HungServer

    hung = HungServer()
    options = settings.REDIS_CLIENT_OPTIONS
    caches = {alias: {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": hung.redis_url,
                      "OPTIONS": {**options, "IGNORE_EXCEPTIONS": alias == "default"}}
              for alias in ("default", "ratelimit")}
    baseline = [timed(lambda: Client().get("/healthz"))[0] for _ in range(RUNS)]
    rows: dict[str, list[float]] = {"healthz": [], "cache": [], "ratelimit_cache": [],
                                    "broker": [], "enqueue broker only": [],
                                    "enqueue backend+broker": []}
    with override_settings(CACHES=caches, CELERY_TASK_ALWAYS_EAGER=False,
                           CELERY_BROKER_URL=hung.redis_url,
                           CELERY_RESULT_BACKEND=hung.redis_url):
        for _ in range(RUNS):
            seconds, response = timed(lambda: Client().get("/healthz"))
            assert response.status_code == 503, response
            rows["healthz"].append(seconds)
            for name in ("cache", "ratelimit_cache", "broker"):
                rows[name].append(response.json()["checks"][name]["latency_ms"] / 1000)
            for ignore_result, label in ((True, "enqueue broker only"),
                                         (False, "enqueue backend+broker")):
                app = Celery("bench-hung", set_as_current=False)
                app.config_from_object("django.conf:settings", namespace="CELERY")
                seconds, error = timed(lambda a=app, i=ignore_result: a.send_task(
                    "nusatrade.ping", ignore_result=i))
                assert isinstance(error, Exception), "enqueue against a hung Redis succeeded?"
                rows[label].append(seconds)
    hung.close()
    base = statistics.median(baseline)
    print(f"median of {RUNS} runs; baseline /healthz on the real services: {base * 1000:.1f} ms")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"  {name:<24} {median * 1000:8.1f} ms   x{median / base:7.1f} baseline")


if __name__ == "__main__":
    import logging

    logging.disable(logging.CRITICAL)  # django-redis logs every ignored timeout with a traceback
    main()
