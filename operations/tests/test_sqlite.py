"""The embedded SQLite: a backup is a sqlite3-backup-API copy, verified by an integrity check
and row counts; restore copies it back over the live database."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import User
from operations.dumps import BackupError, sha256_file
from operations.services import backup_create
from operations.services.backup import backup_verify
from trading.models import KillSwitch

pytestmark = [
    pytest.mark.skipif(connection.vendor != "sqlite",
                       reason="the embedded-SQLite path; this run uses PostgreSQL "
                              "(test_backup.py covers it)"),
    pytest.mark.django_db(transaction=True),
]


def test_round_trip_with_rows_in_every_table(filled, backup_dirs):
    run = backup_create().run
    assert run.verified and run.manifest["database"]["file"] == "database.sqlite3"
    assert run.manifest["row_counts"] == {**filled, "operations_backuprun":
                                          filled["operations_backuprun"] + 1}
    User.objects.create(username="after-the-backup")
    call_command("restore", run.local_path, "--yes", stdout=io.StringIO())
    assert not User.objects.filter(username="after-the-backup").exists()
    assert User.objects.count() == filled["accounts_user"]
    assert KillSwitch.objects.filter(scope="global", engaged=True).exists()


def test_a_truncated_sqlite_copy_is_refused(backup_dirs):
    run = backup_create().run
    directory = Path(run.local_path)
    dump = directory / "database.sqlite3"
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    with pytest.raises(CommandError, match="truncated"):
        call_command("restore", str(directory), "--yes")
    manifest = json.loads((directory / "manifest.json").read_text())
    sha, size = sha256_file(dump)
    manifest["files"]["database.sqlite3"] = {"sha256": sha, "size": size}
    with pytest.raises(BackupError, match=r"SQLite|integrity|malformed"):
        backup_verify(directory, manifest)
