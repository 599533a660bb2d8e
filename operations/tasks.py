"""Celery tasks of the operations app (maintenance queue: ``operations.*`` in
CELERY_TASK_ROUTES). Thin: call the service of the same name, return a JSON-safe summary."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings


@shared_task(name="operations.backup", acks_late=True, reject_on_worker_lost=True)
def backup(upload: bool | None = None, keep_daily: int | None = None,
           keep_weekly: int | None = None) -> dict[str, Any]:
    """The nightly backup (beat schedule from migration 0002). A failure has alerted already
    and raises, so the task shows as failed; a rerun makes a new backup (harmless)."""
    from operations.services import backup_create

    upload = settings.BACKUP_UPLOAD if upload is None else upload
    return backup_create(upload=upload, keep_daily=keep_daily,
                         keep_weekly=keep_weekly).as_dict()
