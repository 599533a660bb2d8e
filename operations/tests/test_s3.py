"""Upload, download, retention and an endpoint that is down, against a REAL S3-compatible
server (moto in server mode on 127.0.0.1, started by the suite; boto3 talks HTTP to it).

These run on whichever database the run is configured with (PostgreSQL: real pg_dump and a
scratch restore; the embedded SQLite: the sqlite3 backup API)."""

from __future__ import annotations

import io
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from operations import s3
from operations.models import BackupRun, BackupStatus
from operations.services import backup_create, backups_prune
from operations.services.common import backup_name, s3_config
from trading.models import KillSwitch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def objects(settings) -> dict[str, dict]:
    listing = settings.s3_client.list_objects_v2(Bucket=settings.BACKUP_S3_BUCKET)
    return {o["Key"]: o for o in listing.get("Contents", [])}


def test_upload_is_verified_multipart_and_restores_from_s3(backup_dirs, s3_settings):
    big = backup_dirs.ARTIFACTS_DIR / "big-model.skops"
    big.write_bytes(os.urandom(6 * 2**20))  # above the 5 MiB threshold: a multipart upload
    out = io.StringIO()
    call_command("backup", "--upload", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    manifest = json.loads((Path(summary["local_path"]) / "manifest.json").read_text())
    prefix = f"prod/backups/{summary['name']}"
    assert summary["s3_key"] == prefix and summary["status"] == "succeeded"
    stored = objects(s3_settings)
    assert set(stored) == {f"{prefix}/{rel}" for rel in manifest["files"]} | {
        f"{prefix}/manifest.json"}
    for rel, meta in manifest["files"].items():
        head = s3_settings.s3_client.head_object(Bucket=s3_settings.BACKUP_S3_BUCKET,
                                                 Key=f"{prefix}/{rel}")
        assert head["Metadata"]["sha256"] == meta["sha256"]
        assert head["ContentLength"] == meta["size"]
    assert stored[f"{prefix}/artifacts/big-model.skops"]["ETag"].endswith('-2"')  # 2 parts

    # The local copy and the model files are lost; a user was added after the backup.
    shutil.rmtree(summary["local_path"])
    shutil.rmtree(backup_dirs.ARTIFACTS_DIR)
    User.objects.create(username="after-the-backup")
    call_command("restore", f"s3://{s3_settings.BACKUP_S3_BUCKET}/{prefix}", "--yes",
                 stdout=io.StringIO())
    assert not User.objects.filter(username="after-the-backup").exists()
    assert (backup_dirs.ARTIFACTS_DIR / "big-model.skops").stat().st_size == 6 * 2**20
    assert KillSwitch.objects.filter(scope="global", engaged=True,
                                     engaged_by="system:restore").exists()


def test_retention_keeps_daily_and_weekly_locally_and_on_s3(backup_dirs, s3_settings):
    base = datetime(2026, 11, 25, 10, tzinfo=UTC)  # a Wednesday
    run = backup_create(upload=True, now=base).run
    config = s3_config()
    older = {days: backup_name(base - timedelta(days=days)) for days in (1, 2, 8, 15)}
    for name in older.values():  # copies of the real backup under older names
        shutil.copytree(run.local_path, backup_dirs.BACKUP_DIR / name)
        s3.backup_upload(config, backup_dirs.BACKUP_DIR / name, name, run.manifest["files"])
    pruned_local, pruned_s3 = backups_prune(keep_daily=2, keep_weekly=2, config=config)
    # Daily: Wed and Tue of this week. Weekly: this week's newest (Wed) and last week's (Tue).
    kept = {run.name, older[1], older[8]}
    assert set(pruned_local) == set(pruned_s3) == {older[2], older[15]}
    assert {p.name for p in backup_dirs.BACKUP_DIR.iterdir()} == kept
    assert set(s3.backup_names(config)) == kept
    assert not [k for k in objects(s3_settings) if older[2] in k or older[15] in k]


def test_endpoint_down_exits_non_zero_keeps_the_local_dump_and_alerts(
        backup_dirs, s3_settings, closed_port, alert_mail):
    s3_settings.BACKUP_S3_ENDPOINT_URL = f"http://127.0.0.1:{closed_port}"
    s3_settings.BACKUP_S3_CONNECT_TIMEOUT = 1
    with pytest.raises(CommandError, match=r"upload to s3://.* failed"):
        call_command("backup", "--upload", stdout=io.StringIO())
    run = BackupRun.objects.get()
    assert run.status == BackupStatus.FAILED and run.verified and "kept" in run.error
    local = Path(run.local_path)
    assert (local / "manifest.json").is_file() and (local / run.manifest["database"]["file"]
                                                    ).is_file()
    subjects = [m.subject for m in alert_mail]
    assert any("backup_failed" in s for s in subjects), subjects


def test_a_damaged_object_on_s3_is_refused_and_nothing_changes(backup_dirs, s3_settings):
    run = backup_create(upload=True).run
    key = f"{run.s3_key}/{run.manifest['database']['file']}"
    client, bucket = s3_settings.s3_client, s3_settings.BACKUP_S3_BUCKET
    head = client.head_object(Bucket=bucket, Key=key)
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=body[: len(body) // 2],
                      Metadata=head["Metadata"])  # truncated, the old hash still claimed
    User.objects.create(username="still-here")
    with pytest.raises(CommandError, match="do not match"):
        call_command("restore", run.name, "--yes")
    assert User.objects.filter(username="still-here").exists()
    assert not KillSwitch.objects.filter(engaged=True).exists()


def test_restore_of_a_backup_that_is_not_on_s3_says_so(backup_dirs, s3_settings):
    with pytest.raises(CommandError, match=r"no manifest\.json"):
        call_command("restore", "prod/backups/nusatrade-20200101T000000000000Z", "--yes")


def test_upload_without_a_bucket_is_a_configuration_error_and_alerts(backup_dirs, settings,
                                                                    alert_mail):
    settings.BACKUP_S3_BUCKET = ""
    with pytest.raises(CommandError, match="BACKUP_S3_BUCKET is not set"):
        call_command("backup", "--upload")
    assert not BackupRun.objects.exists()
    assert any("Backup not started" in m.subject for m in alert_mail)
