"""RELIABILITY scenario 9, the backup drill, as operations sees it: every outcome reaches the
monitoring (/metrics) and the launch checklist, against real PostgreSQL (pg_dump/pg_restore)
and a real S3-compatible server on loopback.

The backup mechanics (every table, every kind of damage) are operations/tests/test_backup.py
and test_s3.py; this is the drill end to end."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import User
from nusatrade import launch
from operations.models import BackupRun, BackupStatus
from trading.models import KillSwitch

pytestmark = [pytest.mark.services("postgres"), pytest.mark.slow]


def last_backup_metric(client) -> float:
    response = client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.content.decode()):
        if family.name == "nusatrade_backup_last_success_timestamp_seconds":
            return family.samples[0].value
    raise AssertionError("no backup metric")


def table_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        out = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - introspected names
            out[table] = cursor.fetchone()[0]
    return out


def test_backup_drill_good_truncated_uploaded_and_endpoint_down(
        filled, backup_dirs, s3_settings, alert_mail, closed_port, client):
    s3_settings.BACKUP_UPLOAD = True
    assert last_backup_metric(client) == 0  # never backed up: the alert rule fires

    # 1. A good backup, uploaded: verified by a scratch restore with equal row counts, every
    #    object's SHA-256 on S3 equal to the manifest's.
    out = io.StringIO()
    call_command("backup", "--upload", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    good = BackupRun.objects.get(name=summary["name"])
    assert good.status == BackupStatus.SUCCEEDED and good.verified
    manifest = json.loads((Path(good.local_path) / "manifest.json").read_text())
    counts = manifest["row_counts"]
    now = table_counts()
    assert {t: now[t] for t in counts} == counts
    from operations.s3 import s3_client
    from operations.services.common import s3_config

    client_s3, bucket = s3_client(s3_config(required=True)), s3_settings.BACKUP_S3_BUCKET
    for rel, entry in manifest["files"].items():
        body = client_s3.get_object(Bucket=bucket, Key=f"{good.s3_key}/{rel}")
        assert hashlib.sha256(body["Body"].read()).hexdigest() == entry["sha256"], rel
    assert last_backup_metric(client) == pytest.approx(good.finished_at.timestamp())
    assert launch._ITEMS["backups configured, recent, verified"]().ok
    assert launch._ITEMS["S3 reachable"]().ok

    # 2. A truncated copy is refused; nothing changes; no kill switch (nothing was restored).
    copy = Path(good.local_path)
    dump = copy / manifest["database"]["file"]
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    User.objects.create(username="written-after-the-backup")
    before = table_counts()
    with pytest.raises(CommandError):
        call_command("restore", str(copy), "--yes", stdout=io.StringIO())
    assert table_counts() == before
    assert not KillSwitch.objects.filter(engaged=True).exists()

    # 3. The S3 endpoint down: non-zero exit, the local dump kept, an alert; the last good
    #    backup stays the one monitoring and the checklist report.
    s3_settings.BACKUP_S3_ENDPOINT_URL = f"http://127.0.0.1:{closed_port}"
    s3_settings.BACKUP_S3_CONNECT_TIMEOUT = 1
    with pytest.raises(CommandError):
        call_command("backup", "--upload", stdout=io.StringIO())
    failed = BackupRun.objects.get(status=BackupStatus.FAILED)  # filldb adds a running row
    assert (Path(failed.local_path) / "manifest.json").is_file()
    assert any("backup_failed" in m.subject for m in alert_mail)
    assert last_backup_metric(client) == pytest.approx(good.finished_at.timestamp())
    s3_item = launch._ITEMS["S3 reachable"]()
    assert not s3_item.ok and "EndpointConnectionError" in s3_item.detail
