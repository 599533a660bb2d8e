"""Launch-checklist items and /metrics of the operations app: backups and their S3 copy."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from nusatrade.launch import ChecklistResult
from operations.selectors import backup_last_verified

BACKUP_FIX = ("python manage.py backup --upload (the beat task operations.backup runs it "
              "nightly on the maintenance queue; docs/OPERATIONS.md, \"Backups\")")


def check_backups() -> ChecklistResult:
    """Configured (an S3 copy), recent (LAUNCH_BACKUP_MAX_AGE_HOURS) and verified (restored
    into a scratch database with equal row counts)."""
    item = "backups configured, recent, verified"
    if not settings.BACKUP_S3_BUCKET:
        return ChecklistResult(item, False, "BACKUP_S3_BUCKET is empty: backups stay on this "
                               "machine and die with it",
                               "set BACKUP_S3_BUCKET (and BACKUP_S3_* credentials, endpoint) "
                               "and BACKUP_UPLOAD=True")
    if not settings.BACKUP_UPLOAD:
        return ChecklistResult(item, False, "BACKUP_UPLOAD is off: the nightly backup is not "
                               "copied to S3", "set BACKUP_UPLOAD=True")
    last = backup_last_verified()
    if last is None or last.finished_at is None:
        return ChecklistResult(item, False, "no verified backup exists", BACKUP_FIX)
    age = timezone.now() - last.finished_at
    limit = timedelta(hours=settings.LAUNCH_BACKUP_MAX_AGE_HOURS)
    if age > limit:
        return ChecklistResult(item, False, f"last verified backup {last.name} is "
                               f"{age.total_seconds() / 3600:.0f} h old (limit "
                               f"{settings.LAUNCH_BACKUP_MAX_AGE_HOURS} h)", BACKUP_FIX)
    if not last.s3_key:
        return ChecklistResult(item, False, f"last verified backup {last.name} was not "
                               "uploaded to S3", BACKUP_FIX)
    return ChecklistResult(item, True, f"{last.name}: verified by restore, in "
                           f"s3://{last.s3_bucket}/{last.s3_key}, "
                           f"{age.total_seconds() / 3600:.1f} h old")


def check_s3_reachable() -> ChecklistResult:
    """A real request to the bucket with the backup's own client and timeouts."""
    from operations.s3 import s3_client
    from operations.services.common import s3_config

    config = s3_config()
    if config is None:
        return ChecklistResult("S3 reachable", False, "BACKUP_S3_BUCKET is empty",
                               "set BACKUP_S3_BUCKET, BACKUP_S3_ENDPOINT_URL (non-AWS) and "
                               "credentials")
    try:
        s3_client(config).head_bucket(Bucket=config.bucket)
    except Exception as exc:  # every failure (DNS, refused, 403, no bucket) is the answer
        return ChecklistResult("S3 reachable", False,
                               f"bucket {config.bucket}: {type(exc).__name__}: {exc}"[:500],
                               "check BACKUP_S3_ENDPOINT_URL, the bucket name, the "
                               "credentials and the network path from this machine")
    return ChecklistResult("S3 reachable", True,
                           f"bucket {config.bucket} answered at "
                           f"{config.endpoint_url or 'AWS S3'}")


def backup_collect() -> Iterable:
    last = backup_last_verified()
    when = GaugeMetricFamily(
        "nusatrade_backup_last_success_timestamp_seconds",
        "Unix time the last verified backup finished (0: never).",
        value=last.finished_at.timestamp() if last and last.finished_at else 0)
    return [when]
