from __future__ import annotations

from django.apps import AppConfig


class MarketDataConfig(AppConfig):
    name = "marketdata"
