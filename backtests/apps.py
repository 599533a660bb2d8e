from __future__ import annotations

from django.apps import AppConfig


class BacktestsConfig(AppConfig):
    name = "backtests"
