"""What backup and restore share: the configured database, S3 settings, backup names."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection

from operations.dumps import PgTarget
from operations.s3 import S3Config

NAME_FORMAT = "nusatrade-%Y%m%dT%H%M%S%fZ"
NAME_PATTERN = re.compile(r"^nusatrade-\d{8}T\d{12}Z$")
DUMP_PG = "database.dump"
DUMP_SQLITE = "database.sqlite3"
ARTIFACTS = "artifacts"
MANIFEST = "manifest.json"
FORMAT = 1


def vendor() -> str:
    return "postgresql" if connection.vendor == "postgresql" else connection.vendor


def pg_target() -> PgTarget:
    """The configured (or, under pytest, the test) database, from Django's connection."""
    db = connection.settings_dict
    return PgTarget(dbname=db["NAME"], host=db.get("HOST") or "127.0.0.1",
                    port=int(db.get("PORT") or 5432), user=db.get("USER") or "postgres",
                    password=db.get("PASSWORD") or "")


def s3_config(required: bool = False) -> S3Config | None:
    from nusatrade.errors import ConfigurationError

    if not settings.BACKUP_S3_BUCKET:
        if required:
            raise ConfigurationError("BACKUP_S3_BUCKET is not set: configure the BACKUP_S3_* "
                                     "settings to upload or restore from S3")
        return None
    return S3Config(bucket=settings.BACKUP_S3_BUCKET, prefix=settings.BACKUP_S3_PREFIX,
                    endpoint_url=settings.BACKUP_S3_ENDPOINT_URL,
                    region=settings.BACKUP_S3_REGION,
                    access_key_id=settings.BACKUP_S3_ACCESS_KEY_ID,
                    secret_access_key=settings.BACKUP_S3_SECRET_ACCESS_KEY,
                    multipart_threshold=settings.BACKUP_S3_MULTIPART_THRESHOLD,
                    multipart_chunksize=settings.BACKUP_S3_MULTIPART_CHUNKSIZE,
                    connect_timeout=settings.BACKUP_S3_CONNECT_TIMEOUT,
                    read_timeout=settings.BACKUP_S3_READ_TIMEOUT)


def backup_name(now: datetime) -> str:
    return now.astimezone(UTC).strftime(NAME_FORMAT)


def name_time(name: str) -> datetime | None:
    if not NAME_PATTERN.match(name):
        return None
    return datetime.strptime(name, NAME_FORMAT).replace(tzinfo=UTC)


def scratch_name() -> str:
    """A scratch database for one verification: clearly ours, unique, under 63 bytes."""
    return f"{settings.BACKUP_SCRATCH_DB_PREFIX}verify_{secrets.token_hex(6)}"


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def code_migrations() -> set[tuple[str, str]]:
    """Every migration the running code has on disk."""
    from django.db.migrations.loader import MigrationLoader

    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
