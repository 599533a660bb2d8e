from __future__ import annotations

from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"

    def ready(self) -> None:
        from nusatrade.metrics import register_collector
        from trading.metrics import trading_collect

        register_collector("trading", trading_collect)
