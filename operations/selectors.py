"""Reads of the operations app."""

from __future__ import annotations

from operations.models import BackupRun, BackupStatus


def backup_last_verified() -> BackupRun | None:
    """The newest backup that succeeded and was verified by a real restore (None: never).

    /metrics and ``check_production`` read it: ``finished_at`` is the last good backup time."""
    return (BackupRun.objects.filter(status=BackupStatus.SUCCEEDED, verified=True)
            .order_by("-finished_at").first())


def backup_list(limit: int = 20) -> list[BackupRun]:
    return list(BackupRun.objects.order_by("-started_at")[:limit])
