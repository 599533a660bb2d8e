"""Operations records: one row per backup attempt (docs/DISASTER_RECOVERY.md)."""

from __future__ import annotations

from django.db import models


class BackupStatus(models.TextChoices):
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


class BackupRun(models.Model):
    """A backup: where it is (local directory, S3 key prefix), what it holds (the manifest:
    migration state, row counts per table, SHA-256 and size of every file) and whether it was
    verified by a real restore into a scratch database."""

    name = models.CharField(max_length=64, unique=True)  # nusatrade-YYYYMMDDTHHMMSSffffffZ
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=BackupStatus.choices,
                              default=BackupStatus.RUNNING)
    verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    database_vendor = models.CharField(max_length=16, blank=True)
    local_path = models.CharField(max_length=500, blank=True)
    s3_bucket = models.CharField(max_length=255, blank=True)
    s3_key = models.CharField(max_length=500, blank=True)  # the backup's key prefix
    uploaded_at = models.DateTimeField(null=True, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    total_bytes = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "verified", "-finished_at"],
                                name="operations_backup_verified")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status}{', verified' if self.verified else ''})"
