from __future__ import annotations

from django.apps import AppConfig


class PaperConfig(AppConfig):
    name = "trading.paper"
    label = "paper"
    verbose_name = "Paper broker"
