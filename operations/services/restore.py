"""``backup_restore``: check, prove, restore, re-check, restore model files, halt trading.

Order matters; nothing is changed until every check has passed:

1. locate the backup (a local directory or its manifest, or an S3 key: downloaded first);
2. check the manifest and every file's SHA-256 and size (a corrupted or truncated file is
   refused here, naming the file);
3. check the migration state: a backup holding migrations this code does not have is refused
   (deploy the code it came from first);
4. restore the dump into a scratch database and compare its row counts with the manifest
   (PostgreSQL; SQLite: integrity check + counts of the file);
5. ONLY THEN restore into the configured database: ``pg_restore --clean --single-transaction``
   (an error rolls everything back; other sessions' locks are waited for at most
   ``BACKUP_RESTORE_LOCK_TIMEOUT_MS``) or the sqlite3 backup API;
6. check the restored database's migration state and row counts against the manifest;
7. restore the model files into ``ARTIFACTS_DIR`` (atomically, each hash re-checked);
8. engage the GLOBAL kill switch (actor ``system:restore``): trading stays halted until an
   admin has run ``reconcile`` and released it (docs/DISASTER_RECOVERY.md).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from operations import dumps, s3
from operations.dumps import BackupError
from operations.services import common

logger = logging.getLogger("nusatrade.operations")
REQUIRED_KEYS = ("format", "name", "database", "migrations", "row_counts", "files")


class RestoreRefused(BackupError):
    """The backup failed a check before anything was changed."""


@dataclass
class RestoreResult:
    name: str
    source: str
    tables: int
    rows: int
    artifacts: list[str] = field(default_factory=list)
    kill_switch_id: int | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "tables": self.tables,
                "rows": self.rows, "artifacts": self.artifacts,
                "kill_switch": self.kill_switch_id, "warnings": self.warnings}


def _local_dir(source: str) -> Path | None:
    path = Path(source)
    if path.is_file() and path.name == common.MANIFEST:
        return path.parent
    if path.is_file():
        return path.parent if (path.parent / common.MANIFEST).exists() else None
    return path if path.is_dir() else None


def backup_locate(source: str, workdir: Path) -> Path:
    """The local directory holding backup ``source`` (downloading an S3 one into
    ``workdir``). ``source``: a backup directory or a file in it; ``s3://bucket/prefix/name``;
    a key ``prefix/name``; or a bare backup name (under ``BACKUP_S3_PREFIX``)."""
    local = _local_dir(source)
    if local is not None:
        return local
    if source.startswith(("/", ".")):
        raise RestoreRefused(f"{source}: no such backup directory or file")
    config = common.s3_config(required=True)
    key = source
    if source.startswith("s3://"):
        bucket, _, key = source.removeprefix("s3://").partition("/")
        config = s3.S3Config(**{**config.__dict__, "bucket": bucket})
    key = key.rstrip("/").removesuffix(common.MANIFEST).rstrip("/")
    prefix, _, name = key.rpartition("/")
    if common.name_time(name) is None:
        raise RestoreRefused(f"{source}: not a backup directory, an S3 key of one, or a backup "
                             "name (nusatrade-YYYYMMDDTHHMMSSffffffZ)")
    config = s3.S3Config(**{**config.__dict__, "prefix": prefix or config.prefix})
    target = workdir / name
    s3.backup_download(config, name, target)
    return target


def _manifest_load(directory: Path) -> dict[str, Any]:
    path = directory / common.MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise RestoreRefused(f"{directory}: no {common.MANIFEST} (incomplete backup)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RestoreRefused(f"{path}: not valid JSON ({exc}): the manifest is corrupted"
                             ) from None
    missing = [k for k in REQUIRED_KEYS if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise RestoreRefused(f"{path}: manifest lacks {', '.join(missing)}")
    if manifest["format"] != common.FORMAT:
        raise RestoreRefused(f"{path}: manifest format {manifest['format']!r}, this code reads "
                             f"{common.FORMAT}")
    if manifest["database"].get("file") not in manifest["files"]:
        raise RestoreRefused(f"{path}: the database file is not among the hashed files")
    return manifest


def backup_check(directory: Path) -> dict[str, Any]:
    """The manifest, after every file's SHA-256 and size matched it (RestoreRefused else)."""
    manifest = _manifest_load(directory)
    problems = dumps.files_problems(directory, manifest["files"])
    if problems:
        raise RestoreRefused(f"REFUSED: backup {manifest['name']} in {directory} is damaged, "
                             "nothing was changed: " + "; ".join(problems))
    vendor = manifest["database"]["vendor"]
    if vendor != common.vendor():
        raise RestoreRefused(f"REFUSED: backup {manifest['name']} is a {vendor} dump; the "
                             f"configured database is {common.vendor()}")
    unknown = {tuple(m) for m in manifest["migrations"]} - common.code_migrations()
    if unknown:
        sample = ", ".join(f"{a}.{n}" for a, n in sorted(unknown)[:5])
        raise RestoreRefused(f"REFUSED: backup {manifest['name']} has migrations this code does "
                             f"not know ({sample}): deploy the code it was taken with first")
    return manifest


def _prove(directory: Path, manifest: dict[str, Any]) -> None:
    """Restore into a scratch database first: a dump that does not restore fully is refused
    before the real database is touched."""
    from operations.services.backup import backup_verify

    try:
        backup_verify(directory, manifest)
    except BackupError as exc:
        raise RestoreRefused(f"REFUSED: backup {manifest['name']} does not restore cleanly, "
                             f"nothing was changed: {exc}") from exc


def _restore_database(directory: Path, manifest: dict[str, Any]) -> None:
    dump = directory / manifest["database"]["file"]
    # Our own connections would hold locks on the tables pg_restore drops; close them (Django
    # reconnects on next use). Other sessions are waited for at most the lock timeout.
    connections.close_all()
    if manifest["database"]["vendor"] == "postgresql":
        dumps.pg_restore(common.pg_target(), dump, clean=True,
                         lock_timeout_ms=settings.BACKUP_RESTORE_LOCK_TIMEOUT_MS)
    else:
        connection.ensure_connection()
        dumps.sqlite_restore(dump, connection.connection)


def _database_state() -> tuple[dict[str, int], list[list[str]]]:
    connection.ensure_connection()
    if common.vendor() == "postgresql":
        target = common.pg_target()
        with target.connect() as conn:
            return dumps.pg_counts(conn), dumps.pg_migrations(conn)
    raw = connection.connection
    return dumps.sqlite_counts(raw), dumps.sqlite_migrations(raw)


def _check_restored(manifest: dict[str, Any]) -> None:
    counts, migrations = _database_state()
    expected = manifest["row_counts"]
    differences = dumps.count_differences(expected, {t: counts.get(t) for t in expected})
    if differences:
        raise BackupError("restored database's row counts differ from the manifest: "
                          + "; ".join(differences[:10]))
    if sorted(migrations) != sorted(manifest["migrations"]):
        raise BackupError("restored database's migration state differs from the manifest")


def _restore_artifacts(directory: Path, manifest: dict[str, Any]) -> list[str]:
    target_root = Path(settings.ARTIFACTS_DIR)
    prefix = manifest.get("artifacts_dir", common.ARTIFACTS) + "/"
    restored = []
    for rel, meta in sorted(manifest["files"].items()):
        if not rel.startswith(prefix):
            continue
        dest = target_root / rel[len(prefix):]
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-restore-")
        os.close(fd)
        shutil.copyfile(directory / rel, tmp)
        if dumps.sha256_file(Path(tmp))[0] != meta["sha256"]:
            os.unlink(tmp)
            raise BackupError(f"{dest}: copy does not match the manifest's SHA-256")
        os.replace(tmp, dest)
        restored.append(rel[len(prefix):])
    return restored


def _after_restore(manifest: dict[str, Any], source: str, actor: Any) -> int:
    """Record the restore and halt trading until reconciliation; returns the switch id."""
    from accounts.audit import audit_record
    from operations.models import BackupRun, BackupStatus
    from trading.services.killswitches import kill_switch_engage

    # The dump was taken while its own BackupRun row said "running": it did succeed.
    BackupRun.objects.filter(name=manifest["name"], status=BackupStatus.RUNNING).update(
        status=BackupStatus.SUCCEEDED, verified=True, finished_at=timezone.now())
    audit_record(actor, "backup.restore", reason=f"restored backup {manifest['name']}",
                 details={"source": source, "created_at": manifest["created_at"],
                          "rows": sum(manifest["row_counts"].values())})
    result = kill_switch_engage(
        "global", actor=actor,
        reason=f"database restored from backup {manifest['name']} (taken "
               f"{manifest['created_at']}): run `manage.py reconcile` for every account, then "
               "release this switch")
    return result.switch.pk


def _alert_refused(source: str, exc: BackupError) -> None:
    """A backup that cannot be restored is a failed backup: say so loudly."""
    from nusatrade.alerts import AlertKind, alert_send

    alert_send(AlertKind.BACKUP_FAILED, f"Restore of {source} refused: the backup is unusable",
               str(exc), fields={"source": source}, key=f"restore:{source}", sync=True)


def backup_restore(source: str, *, actor: Any = "system:restore") -> RestoreResult:
    """Restore backup ``source`` into the configured database and ``ARTIFACTS_DIR``; leaves the
    global kill switch engaged. RestoreRefused: a check failed and nothing was changed."""
    workdir = common.backup_dir() / f"restore-{timezone.now():%Y%m%dT%H%M%S}"
    try:
        try:
            directory = backup_locate(source, workdir)
            manifest = backup_check(directory)
            _prove(directory, manifest)
        except BackupError as exc:
            _alert_refused(source, exc)
            raise
        pending = common.code_migrations() - {tuple(m) for m in manifest["migrations"]}
        _restore_database(directory, manifest)
        _check_restored(manifest)
        artifacts = _restore_artifacts(directory, manifest)
        switch_id = _after_restore(manifest, source, actor)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    warnings = ([f"{len(pending)} migration(s) of this code are not applied in the backup: "
                 "run `manage.py migrate`"] if pending else [])
    logger.warning("restored backup %s from %s; global kill switch #%s engaged", manifest["name"],
                   source, switch_id)
    return RestoreResult(manifest["name"], source, len(manifest["row_counts"]),
                         sum(manifest["row_counts"].values()), artifacts, switch_id, warnings)
