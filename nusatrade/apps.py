from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class NusaTradeConfig(AppConfig):
    name = "nusatrade"
    verbose_name = "NusaTrade core"

    def ready(self) -> None:
        from nusatrade import checks  # noqa: F401  (registers the system checks)
        from nusatrade.celery import app  # noqa: F401  (shared_task binds to our configured app)


class NusaTradeAdminConfig(AdminConfig):
    """django.contrib.admin with the OTP-protected site as ``admin.site``."""

    default_site = "nusatrade.admin_site.NusaTradeAdminSite"
