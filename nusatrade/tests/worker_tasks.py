"""Tasks that exist only for the scale-out tests; a test worker loads them with
``--include nusatrade.tests.worker_tasks`` (production workers never do)."""

from __future__ import annotations

import time

from celery import shared_task


@shared_task(name="tests.long_training")
def long_training(seconds: float, marker: str) -> str:
    """Stand-in for a long training run: announces it started (a Redis key), then works."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_RESULT_BACKEND)
    client.set(marker, "started", ex=600)
    time.sleep(seconds)
    client.set(marker, "finished", ex=600)
    return "trained"
