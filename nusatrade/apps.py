from __future__ import annotations

from django.apps import AppConfig


class NusaTradeConfig(AppConfig):
    name = "nusatrade"
    verbose_name = "NusaTrade core"

    def ready(self) -> None:
        from nusatrade import checks  # noqa: F401  (registers the system checks)
