"""Writes of the operations app: backups (``backup_create``) and restores (``backup_restore``).

See docs/DISASTER_RECOVERY.md for the procedures that use them.
"""

from __future__ import annotations

from operations.dumps import BackupError
from operations.services.backup import BackupOutcome, backup_create, backups_prune
from operations.services.restore import RestoreRefused, RestoreResult, backup_check, backup_restore

__all__ = ["BackupError", "BackupOutcome", "RestoreRefused", "RestoreResult", "backup_check",
           "backup_create", "backup_restore", "backups_prune"]
