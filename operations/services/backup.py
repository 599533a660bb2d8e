"""``backup_create``: dump, describe, VERIFY by a real restore, then upload and prune.

A backup directory ``<BACKUP_DIR>/<name>/`` holds ``database.dump`` (``pg_dump -Fc``) or
``database.sqlite3`` (sqlite3 backup API), ``artifacts/`` (a copy of ``ARTIFACTS_DIR``: the
model registry's files) and ``manifest.json`` (time, database, migration state, row counts per
table, SHA-256 and size of every file), written last: a directory without it is incomplete.

Success is reported only after the dump was restored into a scratch database (created and
dropped here) whose row counts equal the manifest's. Any failure marks the ``BackupRun``
failed, raises a BACKUP_FAILED alert and raises ``BackupError`` (the command exits non-zero).
A failed upload keeps the verified local copy.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from nusatrade.alerts import AlertKind, alert_send
from nusatrade.errors import ConfigurationError
from operations import dumps, s3
from operations.dumps import BackupError
from operations.models import BackupRun, BackupStatus
from operations.services import common

logger = logging.getLogger("nusatrade.operations")


@dataclass
class BackupOutcome:
    run: BackupRun
    pruned_local: list[str] = field(default_factory=list)
    pruned_s3: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        run = self.run
        return {"id": run.pk, "name": run.name, "status": run.status, "verified": run.verified,
                "local_path": run.local_path, "s3_bucket": run.s3_bucket, "s3_key": run.s3_key,
                "total_bytes": run.total_bytes, "manifest_sha256": run.manifest_sha256,
                "tables": len(run.manifest.get("row_counts", {})),
                "rows": sum(run.manifest.get("row_counts", {}).values()),
                "files": len(run.manifest.get("files", {})), "error": run.error,
                "pruned_local": self.pruned_local, "pruned_s3": self.pruned_s3}


def _dump_database(directory: Path) -> tuple[str, dict[str, Any]]:
    if common.vendor() == "postgresql":
        return common.DUMP_PG, dumps.pg_dump_snapshot(common.pg_target(),
                                                      directory / common.DUMP_PG)
    if common.vendor() == "sqlite":
        connection.ensure_connection()
        return common.DUMP_SQLITE, dumps.sqlite_dump(connection.connection,
                                                     directory / common.DUMP_SQLITE)
    raise BackupError(f"backups support PostgreSQL and SQLite, not {connection.vendor}")


def _copy_artifacts(directory: Path) -> list[str]:
    """Copy the model registry's files; returns their paths relative to ``directory``."""
    source = Path(settings.ARTIFACTS_DIR)
    copied = []
    if not source.is_dir():
        return copied
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.is_symlink() and not path.name.startswith(".tmp"):
            rel = Path(common.ARTIFACTS) / path.relative_to(source)
            (directory / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, directory / rel)
            copied.append(rel.as_posix())
    return copied


def _manifest(name: str, now: datetime, dump_file: str, facts: dict[str, Any],
              files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"format": common.FORMAT, "name": name, "created_at": now.isoformat(),
            "database": {"vendor": common.vendor(), "name": str(connection.settings_dict["NAME"]),
                         "server_version": facts["server_version"], "file": dump_file},
            "migrations": facts["migrations"], "row_counts": facts["row_counts"],
            "artifacts_dir": common.ARTIFACTS, "files": files}


def backup_verify(directory: Path, manifest: dict[str, Any]) -> None:
    """Raise BackupError unless every file matches the manifest AND the dump restores into a
    scratch database with the manifest's row counts."""
    problems = dumps.files_problems(directory, manifest["files"])
    if problems:
        raise BackupError("backup files do not match the manifest: " + "; ".join(problems))
    dump = directory / manifest["database"]["file"]
    expected = manifest["row_counts"]
    if manifest["database"]["vendor"] == "postgresql":
        scratch = common.scratch_name()
        logger.info("verifying %s by a restore into scratch database %s", dump, scratch)
        differences = dumps.pg_scratch_verify(common.pg_target(), dump, scratch, expected)
    else:
        differences = dumps.sqlite_verify(dump, expected)
    if differences:
        raise BackupError("the restored copy's row counts differ from the manifest: "
                          + "; ".join(differences[:10]))


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> str:
    path = directory / common.MANIFEST
    tmp = directory / (common.MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tmp.replace(path)
    return dumps.sha256_file(path)[0]


def _fail(run: BackupRun, message: str) -> None:
    run.status = BackupStatus.FAILED
    run.error = message[:4000]
    run.finished_at = timezone.now()
    run.save()
    logger.error("backup %s failed: %s", run.name, message)
    alert_send(AlertKind.BACKUP_FAILED, f"Backup {run.name} failed", message,
               fields={"backup": run.name, "local_path": run.local_path or "none",
                       "verified": run.verified}, key="backup", sync=True)


def _build(run: BackupRun, directory: Path, now: datetime) -> None:
    directory.mkdir(parents=True)
    dump_file, facts = _dump_database(directory)
    rels = [dump_file, *_copy_artifacts(directory)]
    manifest = _manifest(run.name, now, dump_file, facts, dumps.files_describe(directory, rels))
    backup_verify(directory, manifest)
    run.manifest_sha256 = _write_manifest(directory, manifest)
    run.manifest = manifest
    run.verified, run.verified_at = True, timezone.now()
    run.local_path = str(directory)
    run.total_bytes = sum(f["size"] for f in manifest["files"].values())
    run.save()


def backup_create(*, upload: bool = False, keep_daily: int | None = None,
                  keep_weekly: int | None = None, now: datetime | None = None) -> BackupOutcome:
    """Make, verify and (``upload``) ship a backup, then apply retention. Raises BackupError
    (after alerting) when any step fails."""
    keep_daily = settings.BACKUP_KEEP_DAILY if keep_daily is None else keep_daily
    keep_weekly = settings.BACKUP_KEEP_WEEKLY if keep_weekly is None else keep_weekly
    dumps.retention_keep([], keep_daily, keep_weekly)  # validate before doing anything
    try:
        config = common.s3_config(required=upload) if upload else None
    except ConfigurationError as exc:  # e.g. BACKUP_UPLOAD on, no bucket: no backup tonight
        alert_send(AlertKind.BACKUP_FAILED, "Backup not started: misconfigured", str(exc),
                   key="backup", sync=True)
        raise
    now = now or timezone.now()
    run = BackupRun.objects.create(name=common.backup_name(now), started_at=now,
                                   database_vendor=common.vendor())
    directory = common.backup_dir() / run.name
    try:
        _build(run, directory, now)
    except Exception as exc:
        shutil.rmtree(directory, ignore_errors=True)  # an unverified dump is not a backup
        _fail(run, f"{type(exc).__name__}: {exc}" if not isinstance(exc, BackupError)
              else str(exc))
        raise BackupError(f"backup {run.name} failed: {run.error}") from exc
    outcome = BackupOutcome(run)
    if config is not None:
        try:
            run.s3_key = s3.backup_upload(config, directory, run.name, run.manifest["files"])
            run.s3_bucket, run.uploaded_at = config.bucket, timezone.now()
            run.save()
        except BackupError as exc:
            _fail(run, f"{exc} (the verified local copy is kept in {directory})")
            raise BackupError(f"backup {run.name} failed: {run.error}") from exc
    outcome.pruned_local, outcome.pruned_s3 = backups_prune(keep_daily, keep_weekly, config)
    run.status, run.finished_at = BackupStatus.SUCCEEDED, timezone.now()
    run.save()
    logger.info("backup %s verified (%d bytes)%s", run.name, run.total_bytes,
                f", uploaded to s3://{run.s3_bucket}/{run.s3_key}" if run.s3_key else "")
    return outcome


def _local_backups() -> dict[datetime, Path]:
    root = common.backup_dir()
    found = {}
    if root.is_dir():
        for path in root.iterdir():
            stamp = common.name_time(path.name)
            if stamp and (path / common.MANIFEST).is_file():
                found[stamp] = path
    return found


def backups_prune(keep_daily: int, keep_weekly: int,
                  config: s3.S3Config | None = None) -> tuple[list[str], list[str]]:
    """Delete the complete backups retention does not keep, locally and (``config``) on S3.
    Returns (local names deleted, S3 names deleted)."""
    local = _local_backups()
    keep = dumps.retention_keep(local, keep_daily, keep_weekly)
    pruned_local = []
    for stamp, path in sorted(local.items()):
        if stamp not in keep:
            shutil.rmtree(path)
            pruned_local.append(path.name)
    BackupRun.objects.filter(name__in=pruned_local).update(local_path="")
    pruned_s3 = []
    if config is not None:
        remote = {t: n for n in s3.backup_names(config) if (t := common.name_time(n))}
        keep = dumps.retention_keep(remote, keep_daily, keep_weekly)
        for stamp, name in sorted(remote.items()):
            if stamp not in keep:
                s3.backup_delete(config, name)
                pruned_s3.append(name)
        BackupRun.objects.filter(name__in=pruned_s3).update(s3_key="")
    return pruned_local, pruned_s3
