"""Beat schedule: ``mlops.retrain`` (``if_flagged``: only a champion with a pending or
approved retraining request) every Sunday at 02:00 UTC, on the training queue."""

from __future__ import annotations

import json

from django.db import migrations

TASK_NAME = "weekly retrain if flagged (XAUUSD H1)"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="2", day_of_week="0", day_of_month="*", month_of_year="*",
        timezone="UTC")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME, defaults={
            "task": "mlops.retrain", "crontab": crontab, "queue": "training", "enabled": True,
            "kwargs": json.dumps({"symbol": "XAUUSD", "timeframe": "H1", "if_flagged": True})})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0004_retraining_run")]
    operations = [migrations.RunPython(schedule, unschedule)]
