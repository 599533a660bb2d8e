"""The nightly reconciliation schedule (django-celery-beat's DatabaseScheduler; editable in
the admin). 21:15 UTC: inside the daily metals break in winter (21:00-22:00 UTC), right after
it in summer; the account lock keeps it off a running cycle either way. No queue is set, so
the task's route (``trading.reconcile*`` -> maintenance) applies."""

import json

from django.db import migrations

NAME = "trading.reconcile nightly"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="15", hour="21", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone="UTC")
    PeriodicTask.objects.get_or_create(name=NAME, defaults={
        "task": "trading.reconcile", "crontab": crontab, "args": json.dumps([]),
        "kwargs": json.dumps({}), "enabled": True,
        "description": "Reconcile every account not closed with its broker "
                       "(docs/auto-trading.md, Reconciliation)."})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("trading", "0005_reconciliation"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
