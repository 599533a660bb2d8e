"""Data migration: the beat schedules of the trading cycle (H1, H4, D1) and the kill-switch
expiry, as django-celery-beat rows (editable in the admin). ``manage.py cycle_schedules``
(re)creates them the same way, idempotently."""

from __future__ import annotations

from django.db import migrations
from django.utils import timezone


def create_schedules(apps, schema_editor):
    from trading.cycle.dispatch import cycle_schedules_ensure

    cycle_schedules_ensure(apps.get_model("django_celery_beat", "PeriodicTask"),
                           apps.get_model("django_celery_beat", "CrontabSchedule"))
    # Historical models send no signals: tell a running beat that its schedule changed.
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()})


def delete_schedules(apps, schema_editor):
    from trading.cycle.schedule import SCHEDULES

    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[spec.name for spec in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0005_strategy_settings"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
