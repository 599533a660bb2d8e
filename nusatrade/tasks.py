from __future__ import annotations

from celery import shared_task
from celery.signals import task_failure


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


@task_failure.connect
def alert_on_task_failure(sender=None, task_id=None, exception=None, **kwargs) -> None:
    """A task that failed for good (no retry left) raises a ``task_failed`` alert, at most one
    per task name per rate-limit window. Runs where the task ran (the worker, or the caller
    when eager); the alert itself is queued to the maintenance queue."""
    name = getattr(sender, "name", None) or "unknown"
    if name == send_alert.name:
        return  # an alert about a failing alert task would feed itself
    from nusatrade.alerts import AlertKind, alert_send

    alert_send(AlertKind.TASK_FAILED, f"task {name} failed",
               f"{type(exception).__name__}: {exception}",
               fields={"task": name, "task_id": task_id or ""}, key=name)
