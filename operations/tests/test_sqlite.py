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

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="the embedded-SQLite path in-process; this run uses PostgreSQL (the subprocess "
           "test below runs it on SQLite)")




@sqlite_only
@pytest.mark.django_db(transaction=True)
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


@sqlite_only
@pytest.mark.django_db(transaction=True)
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


def _embedded_env() -> dict[str, str]:
    import os

    drop = {"DATABASE_URL", "REDIS_URL", "REQUIRE_SERVICES", "CELERY_BROKER_URL"}
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.mark.skipif(connection.vendor == "sqlite", reason="the tests above run in-process")
def test_the_sqlite_path_runs_in_a_subprocess_when_this_run_uses_postgresql():
    """CI runs on PostgreSQL, where the tests above cannot run in-process: run them in a
    child pytest on the embedded default, so the SQLite backup path is never left untested."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(Path(__file__).relative_to(root)), "-k", "not subprocess"],
        cwd=root, env=_embedded_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout, result.stdout[-2000:]
