from __future__ import annotations

from celery import shared_task


@shared_task(name="nusatrade.ping")
def ping(value: str = "pong") -> dict:
    """Round trip through broker and worker; returns the worker's view of its configuration."""
    from django.conf import settings
    from django.db import connection

    return {"value": value, "database": str(connection.settings_dict["NAME"]),
            "eager": settings.CELERY_TASK_ALWAYS_EAGER}


@shared_task(name="nusatrade.alerts.send")
def send_alert(alert: dict) -> dict:
    """Deliver one alert (queued by ``nusatrade.alerts.alert_send``, routed to the maintenance
    queue). Delivery never raises, so the task is never retried by Celery: the channels retry
    themselves, boundedly."""
    from nusatrade.alerts import Alert, alert_deliver

    return alert_deliver(Alert.from_dict(alert)).as_dict()
