"""The beat task, its queue and schedule, the commands' documented flags, the selector."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.core.management import load_command_class
from django.utils import timezone

from nusatrade.celery import app
from operations import tasks
from operations.models import BackupRun, BackupStatus
from operations.selectors import backup_last_verified


def test_the_backup_task_runs_on_the_maintenance_queue():
    assert app.amqp.router.route({}, "operations.backup")["queue"].name == "maintenance"
    assert tasks.backup.name == "operations.backup" and tasks.backup.acks_late


@pytest.mark.django_db
def test_the_schedule_migration_creates_one_nightly_task_and_is_idempotent():
    from django_celery_beat.models import PeriodicTask

    migration = import_module("operations.migrations.0002_backup_schedule")
    PeriodicTask.objects.filter(name=migration.NAME).delete()
    migration.forward(apps, None)
    migration.forward(apps, None)
    task = PeriodicTask.objects.get(name=migration.NAME)
    assert (task.task, task.queue, task.enabled) == ("operations.backup", "maintenance", True)
    assert (task.crontab.hour, task.crontab.minute) == ("2", "30")


@pytest.mark.django_db(transaction=True)
def test_the_task_makes_a_verified_backup(backup_dirs, settings):
    settings.BACKUP_UPLOAD = False
    result = tasks.backup.apply().get()
    assert result["status"] == "succeeded" and result["verified"] is True
    assert BackupRun.objects.get(name=result["name"]).verified


@pytest.mark.parametrize("command, flags", [
    ("backup", ["--upload", "--keep-daily", "--keep-weekly", "--json"]),
    ("restore", ["PATH_OR_S3_KEY", "--yes", "--json"]),
])
def test_the_commands_offer_the_documented_flags(command, flags):
    parser = load_command_class("operations", command).create_parser("manage.py", command)
    text = parser.format_help()
    assert [f for f in flags if f not in text] == []


@pytest.mark.django_db
def test_backup_last_verified_is_the_newest_verified_success():
    now = timezone.now()

    def run(name, minutes, status, verified):
        return BackupRun.objects.create(name=name, started_at=now, status=status,
                                        verified=verified,
                                        finished_at=now - timedelta(minutes=minutes))

    assert backup_last_verified() is None
    older = run("a", 60, BackupStatus.SUCCEEDED, True)
    run("b", 30, BackupStatus.FAILED, True)       # upload failed: not a good backup
    run("c", 10, BackupStatus.FAILED, False)
    run("d", 5, BackupStatus.RUNNING, False)
    assert backup_last_verified() == older


@pytest.fixture
def worker_backup_env(monkeypatch, tmp_path, settings):
    """What the worker process reads at start: its own backup directory and scratch prefix."""
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "worker-backups"))
    monkeypatch.setenv("BACKUP_SCRATCH_DB_PREFIX", "nt_backup_scratch_")
    monkeypatch.setenv("BACKUP_UPLOAD", "false")
    return tmp_path / "worker-backups"


@pytest.mark.services("celery")
def test_a_real_worker_runs_the_backup_task(worker_backup_env, celery_worker_process):
    result = tasks.backup.apply_async(queue=celery_worker_process).get(timeout=300)
    run = BackupRun.objects.get(name=result["name"])
    assert run.status == BackupStatus.SUCCEEDED and run.verified
    assert (worker_backup_env / run.name / "manifest.json").is_file()
