from __future__ import annotations

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations (backups and restore)"

    def ready(self) -> None:
        from nusatrade.launch import checklist_register
        from nusatrade.metrics import register_collector
        from operations.launch import backup_collect, check_backups, check_s3_reachable

        checklist_register("backups configured, recent, verified", check_backups)
        checklist_register("S3 reachable", check_s3_reachable)
        register_collector("backups", backup_collect)
