from __future__ import annotations

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """ML monitoring: live performance snapshots, drift and the admin dashboard. Orchestration
    layer (it reads trading, mlops and backtests; nothing below imports it)."""

    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"
