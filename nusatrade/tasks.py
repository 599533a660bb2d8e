from __future__ import annotations

from celery import shared_task


@shared_task(name="nusatrade.ping")
def ping(value: str = "pong") -> dict:
    """Round trip through broker and worker; returns the worker's view of its configuration."""
    from django.conf import settings
    from django.db import connection

    return {"value": value, "database": str(connection.settings_dict["NAME"]),
            "eager": settings.CELERY_TASK_ALWAYS_EAGER}
