"""Backup, verify and restore against the real PostgreSQL with real pg_dump/pg_restore:
a round trip with rows in every table, and damaged backups refused without changing anything
(RELIABILITY scenario 9)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import AuditEntry, User
from operations.dumps import BackupError, pg_database_exists
from operations.models import BackupRun, BackupStatus
from operations.selectors import backup_last_verified
from operations.services import backup_create
from operations.services.backup import backup_verify
from operations.services.common import pg_target
from trading.models import KillSwitch

pytestmark = [pytest.mark.services("postgres"), pytest.mark.slow]


def counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        out = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - introspected names
            out[table] = cursor.fetchone()[0]
    return out


def run_backup(*args: str) -> dict:
    out = io.StringIO()
    call_command("backup", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def manifest_of(summary: dict) -> dict:
    return json.loads((Path(summary["local_path"]) / "manifest.json").read_text())


def truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def rehash(directory: Path, rel: str) -> None:
    """Rewrite the manifest entry of ``rel`` to match the file (a dump damaged BEFORE it was
    hashed, e.g. a full disk: only a real restore can tell)."""
    from operations.dumps import sha256_file

    manifest = json.loads((directory / "manifest.json").read_text())
    sha, size = sha256_file(directory / rel)
    manifest["files"][rel] = {"sha256": sha, "size": size}
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_round_trip_with_rows_in_every_table_loses_nothing(filled, backup_dirs, alert_mail):
    assert [t for t, n in filled.items() if n == 0] == []
    summary = run_backup()
    manifest = manifest_of(summary)
    run = BackupRun.objects.get(name=summary["name"])
    assert run.status == BackupStatus.SUCCEEDED and run.verified and summary["verified"]
    # The manifest describes the dump's snapshot: what was there, plus this run's own row.
    assert manifest["row_counts"] == {**filled, "operations_backuprun":
                                      filled["operations_backuprun"] + 1}
    assert {"database.dump", "artifacts/model-1.skops", "artifacts/model-1.json"} == set(
        manifest["files"])
    assert ["operations", "0001_initial"] in manifest["migrations"]
    assert backup_last_verified() == run

    # Damage after the backup: a user added, the audit log wiped, a model file lost.
    before = counts()
    User.objects.create(username="after-the-backup")
    AuditEntry.objects.all().delete()
    (backup_dirs.ARTIFACTS_DIR / "model-1.skops").unlink()

    call_command("restore", summary["local_path"], "--yes", stdout=io.StringIO())

    after = counts()
    # Every table as backed up; the restore adds its audit entry and the global switch.
    expected = {**manifest["row_counts"],
                "accounts_auditentry": manifest["row_counts"]["accounts_auditentry"] + 2,
                "trading_killswitch": manifest["row_counts"]["trading_killswitch"] + 1}
    assert after == expected
    assert set(after) == set(before)
    assert not User.objects.filter(username="after-the-backup").exists()
    assert (backup_dirs.ARTIFACTS_DIR / "model-1.skops").read_bytes() == b"model bytes " * 1000
    switch = KillSwitch.objects.get(scope="global", engaged=True, engaged_by="system:restore")
    assert "reconcile" in switch.reason
    assert BackupRun.objects.get(name=summary["name"]).status == BackupStatus.SUCCEEDED


def test_a_truncated_dump_passes_pg_restore_list_but_fails_verification(filled, backup_dirs):
    summary = run_backup()
    directory = Path(summary["local_path"])
    dump = directory / "database.dump"
    truncate(dump, keep=0.99)  # the last table's data cut off, as a full disk would
    rehash(directory, "database.dump")
    target = pg_target()
    listed = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True,
                            env=target.env())
    assert listed.returncode == 0  # the trap: the table of contents is still readable
    with pytest.raises(BackupError, match="pg_restore"):
        backup_verify(directory, manifest_of(summary))
    # The scratch database of that verification was dropped again.
    with target.connect(dbname="postgres") as admin:
        left = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE "
                             "'nt_backup_scratch_%'").fetchall()
    assert left == []


@pytest.mark.parametrize("damage, message", [
    ("truncate", "truncated or altered"),
    ("corrupt", "corrupted"),
    ("truncate+rehash", "does not restore cleanly"),
    ("manifest", "not valid JSON"),
    ("missing", "missing"),
])
def test_a_damaged_backup_is_refused_and_nothing_changes(filled, backup_dirs, alert_mail,
                                                        damage, message):
    summary = run_backup()
    directory = Path(summary["local_path"])
    dump = directory / "database.dump"
    if damage.startswith("truncate"):
        truncate(dump)
        if damage.endswith("rehash"):
            rehash(directory, "database.dump")
    elif damage == "corrupt":
        data = bytearray(dump.read_bytes())
        data[len(data) // 2] ^= 0xFF
        dump.write_bytes(bytes(data))
    elif damage == "manifest":
        (directory / "manifest.json").write_text('{"format": 1, "name": "x", "files": {')
    else:
        (directory / "artifacts" / "model-1.skops").unlink()
    User.objects.create(username="still-here")
    before = counts()
    with pytest.raises(CommandError, match=message):
        call_command("restore", str(directory), "--yes", stdout=io.StringIO())
    assert counts() == before
    assert User.objects.filter(username="still-here").exists()
    assert not KillSwitch.objects.filter(engaged=True).exists()
    subjects = [m.subject for m in alert_mail]
    assert any("backup_failed: Restore of" in s and "refused" in s for s in subjects), subjects


def test_a_failed_backup_alerts_exits_non_zero_and_is_recorded(transactional_db, backup_dirs,
                                                              alert_mail, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the backup directory should be")
    backup_dirs.BACKUP_DIR = blocker / "backups"
    with pytest.raises(CommandError, match="failed"):
        run_backup()
    run = BackupRun.objects.get()
    assert run.status == BackupStatus.FAILED and not run.verified and run.error
    assert backup_last_verified() is None
    subjects = [m.subject for m in alert_mail]
    assert any("backup_failed: Backup " in s for s in subjects), subjects


def test_restore_without_yes_refuses_when_not_on_a_terminal(filled, backup_dirs, monkeypatch):
    summary = run_backup()
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))  # not a TTY
    before = counts()
    with pytest.raises(CommandError, match="refusing without --yes"):
        call_command("restore", summary["local_path"])
    assert counts() == before


def test_restore_refuses_an_unknown_source_clearly(backup_dirs, transactional_db):
    with pytest.raises(CommandError, match="no such backup"):
        call_command("restore", "/nonexistent/nusatrade-20260101T000000000000Z", "--yes")


def test_bad_retention_is_refused_before_anything_is_dumped(backup_dirs, transactional_db):
    with pytest.raises(CommandError, match="keep-daily must be >= 1"):
        call_command("backup", "--keep-daily", "0")
    assert not BackupRun.objects.exists()


def test_scratch_databases_are_named_as_ours(backup_dirs, transactional_db):
    from operations.services.common import scratch_name

    name = scratch_name()
    assert name.startswith("nt_backup_scratch_verify_") and len(name) < 63
    assert not pg_database_exists(pg_target(), name)


def test_backup_create_reports_what_it_made(filled, backup_dirs):
    outcome = backup_create()
    summary = outcome.as_dict()
    assert summary["tables"] == len(filled) and summary["rows"] == sum(filled.values()) + 1
    assert summary["files"] == 3 and summary["total_bytes"] > 12000
