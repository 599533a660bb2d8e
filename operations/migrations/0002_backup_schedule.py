"""The nightly backup on Celery beat (django-celery-beat's database scheduler): 02:30 UTC,
task ``operations.backup`` (maintenance queue). Edit the time in the admin; the task uploads
when BACKUP_UPLOAD is true."""

from django.db import migrations

NAME = "operations.backup nightly"


def forward(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone="UTC")
    PeriodicTask.objects.get_or_create(
        name=NAME, defaults={"task": "operations.backup", "crontab": schedule,
                             "queue": "maintenance", "enabled": True,
                             "description": "Verified backup (docs/DISASTER_RECOVERY.md)"})


def backward(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forward, backward)]
