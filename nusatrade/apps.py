from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class NusaTradeConfig(AppConfig):
    name = "nusatrade"
    verbose_name = "NusaTrade core"

    def ready(self) -> None:
        from nusatrade import (
            checks,  # noqa: F401  (registers the system checks)
            logs,  # noqa: F401  (task id on log lines: Celery signals)
        )
        from nusatrade.celery import app  # noqa: F401  (shared_task binds to our configured app)
        from nusatrade.metrics import celery as _celery_metrics  # noqa: F401  (task signals)
        from nusatrade.metrics import register_collector
        from nusatrade.metrics.database import database_collect

        register_collector("database", database_collect)


class NusaTradeAdminConfig(AdminConfig):
    """django.contrib.admin with the OTP-protected site as ``admin.site``."""

    default_site = "nusatrade.admin_site.NusaTradeAdminSite"
