"""Beat schedule: ``mlops.track_performance`` every day at 00:20 UTC (the database scheduler
reads PeriodicTask rows; ops can change or disable it in the admin)."""

from __future__ import annotations

from django.db import migrations

TASK_NAME = "daily performance snapshot"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="20", hour="0", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone="UTC")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME, defaults={"task": "mlops.track_performance", "crontab": crontab,
                                  "queue": "training", "enabled": True})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_performance_snapshot"),
                    ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(schedule, unschedule)]
