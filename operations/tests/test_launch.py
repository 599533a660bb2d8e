"""The launch checklist's backup, S3 and reconciliation items, the whole checklist passing on
a ready deployment, and the backup/reconciliation times on /metrics."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from nusatrade import launch
from operations.models import BackupRun, BackupStatus
from trading.models import ReconciliationRun
from trading.tests.conftest import make_account

pytestmark = pytest.mark.django_db


def item(name: str) -> launch.ChecklistResult:
    return launch._ITEMS[name]()


def backup_run(hours_old: float, *, verified: bool = True, uploaded: bool = True,
               status: str = BackupStatus.SUCCEEDED) -> BackupRun:
    finished = timezone.now() - timedelta(hours=hours_old)
    return BackupRun.objects.create(
        name=f"nusatrade-{finished:%Y%m%dT%H%M%S%f}Z", started_at=finished - timedelta(minutes=2),
        finished_at=finished, status=status, verified=verified,
        s3_bucket="nt-prod" if uploaded else "",
        s3_key=f"prod/backups/{finished:%Y%m%d}" if uploaded else "")


def reconciliation_run(status: str = "clean") -> ReconciliationRun:
    account = make_account(name=f"paper {ReconciliationRun.objects.count() + 1}")
    return ReconciliationRun.objects.create(account=account, status=status,
                                            triggered_by="test", as_of=timezone.now(),
                                            finished_at=timezone.now())


@pytest.fixture
def backups_configured(settings):
    settings.BACKUP_S3_BUCKET = "nt-prod"
    settings.BACKUP_UPLOAD = True
    settings.LAUNCH_BACKUP_MAX_AGE_HOURS = 26
    return settings


BACKUPS = "backups configured, recent, verified"


def test_backups_must_be_configured_for_s3(settings):
    settings.BACKUP_S3_BUCKET = ""
    assert "BACKUP_S3_BUCKET is empty" in item(BACKUPS).detail
    settings.BACKUP_S3_BUCKET, settings.BACKUP_UPLOAD = "nt-prod", False
    assert "BACKUP_UPLOAD is off" in item(BACKUPS).detail


def test_backups_must_be_verified_recent_and_uploaded(backups_configured):
    assert item(BACKUPS).detail == "no verified backup exists"
    backup_run(1, verified=False)
    backup_run(1, status=BackupStatus.FAILED, verified=False)
    assert item(BACKUPS).detail == "no verified backup exists"
    backup_run(30)
    result = item(BACKUPS)
    assert not result.ok and "30 h old (limit 26 h)" in result.detail
    assert "python manage.py backup --upload" in result.fix
    local_only = backup_run(2, uploaded=False)
    assert item(BACKUPS).detail == f"last verified backup {local_only.name} was not uploaded to S3"
    good = backup_run(1)
    result = item(BACKUPS)
    assert result.ok and good.name in result.detail and "s3://nt-prod/" in result.detail


def test_s3_reachable_against_a_real_server_and_a_closed_port(s3_settings, closed_port):
    result = item("S3 reachable")
    assert result.ok, result.detail
    s3_settings.BACKUP_S3_BUCKET = "no-such-bucket-here"
    result = item("S3 reachable")
    assert not result.ok and "no-such-bucket-here" in result.detail
    s3_settings.BACKUP_S3_ENDPOINT_URL = f"http://127.0.0.1:{closed_port}"
    s3_settings.BACKUP_S3_CONNECT_TIMEOUT = 1
    result = item("S3 reachable")
    assert not result.ok and "EndpointConnectionError" in result.detail
    assert "BACKUP_S3_ENDPOINT_URL" in result.fix


def test_a_completed_reconciliation_run_is_required():
    assert not item("reconciliation ran").ok
    reconciliation_run(status="failed")
    assert not item("reconciliation ran").ok  # a failed run compared nothing
    reconciliation_run(status="mismatch")  # compared, found a problem: it did run
    assert item("reconciliation ran").ok


def test_the_whole_checklist_passes_on_a_ready_deployment(s3_settings, settings):
    """Every registered item (core, accounts, trading, operations) at once, with --json."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from accounts.services import totp_device_create, user_create
    from nusatrade.models import AlertTestRecord
    from nusatrade.tests.test_check_production import production_configure

    production_configure(settings)
    settings.BACKUP_UPLOAD = True
    admin = user_create("ops1", "correct-horse-battery-staple-42", staff=True, superuser=True)
    totp_device_create(admin)
    AlertTestRecord.objects.create(status="sent")
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(name="ping", task="nusatrade.ping", interval=every)
    backup_run(3)
    reconciliation_run()
    out = StringIO()
    call_command("check_production", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] is True, [i for i in report["items"] if not i["ok"]]
    assert {i["item"] for i in report["items"]} >= {
        "secrets", "TLS settings", "CORS", "check --deploy", "Sentry", "alerts configured",
        "test alert delivered", "beat schedules", "2FA on every admin account",
        BACKUPS, "S3 reachable", "reconciliation ran", "kill switches explained"}


def test_metrics_show_the_last_backup_and_reconciliation_times(client):
    def scrape() -> dict[str, float]:
        response = client.get("/metrics")
        assert response.status_code == 200
        return {s.name: s.value for f in text_string_to_metric_families(
            response.content.decode()) for s in f.samples if not s.labels}

    before = scrape()
    assert before["nusatrade_backup_last_success_timestamp_seconds"] == 0
    assert before["nusatrade_reconciliation_last_success_timestamp_seconds"] == 0
    good = backup_run(2)
    run = reconciliation_run()
    after = scrape()
    assert after["nusatrade_backup_last_success_timestamp_seconds"] == pytest.approx(
        good.finished_at.timestamp())
    assert after["nusatrade_reconciliation_last_success_timestamp_seconds"] == pytest.approx(
        run.finished_at.timestamp())
