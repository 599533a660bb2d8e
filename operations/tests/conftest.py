"""Fixtures of the backup tests: private backup and artifact directories, a REAL S3-compatible
server (moto in server mode, bound to 127.0.0.1 on a free port), alerts captured by the real
email channel, and a database with rows in every table."""

from __future__ import annotations

import socket
import uuid

import pytest

from operations.tests import filldb


@pytest.fixture
def backup_dirs(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.ARTIFACTS_DIR.mkdir()
    (settings.ARTIFACTS_DIR / "model-1.skops").write_bytes(b"model bytes " * 1000)
    (settings.ARTIFACTS_DIR / "model-1.json").write_text('{"sha256": "..."}')
    settings.BACKUP_SCRATCH_DB_PREFIX = "nt_backup_scratch_"  # this suite's own scratch DBs
    return settings


@pytest.fixture
def alert_mail(settings, mailoutbox):
    """Alerts go through the real email channel into Django's test outbox."""
    settings.ALERT_EMAILS = ["ops@nusatrade.test"]
    settings.ALERT_WEBHOOK_URL = ""
    settings.ALERT_RETRY_BACKOFF_SECONDS = 0
    return mailoutbox


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible HTTP server on loopback (moto server mode), for the session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_settings(settings, s3_server):
    """BACKUP_S3_* pointed at the loopback server, with a fresh bucket per test."""
    import boto3

    bucket = f"nt-backup-{uuid.uuid4().hex[:10]}"
    settings.BACKUP_S3_BUCKET = bucket
    settings.BACKUP_S3_PREFIX = "prod/backups"
    settings.BACKUP_S3_ENDPOINT_URL = s3_server
    settings.BACKUP_S3_ACCESS_KEY_ID = "testing"
    settings.BACKUP_S3_SECRET_ACCESS_KEY = "testing-secret"
    settings.BACKUP_S3_MULTIPART_THRESHOLD = 5 * 2**20  # S3's minimum part size
    settings.BACKUP_S3_MULTIPART_CHUNKSIZE = 5 * 2**20
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing-secret")
    client.create_bucket(Bucket=bucket)
    settings.s3_client = client
    return settings


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def filled(transactional_db):
    """Rows in every table of the database (filldb), committed so pg_dump sees them."""
    return filldb.fill_every_table()
