from __future__ import annotations

from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"

    def ready(self) -> None:
        from nusatrade.launch import checklist_register
        from nusatrade.metrics import register_collector
        from trading.launch import check_kill_switches_explained, check_reconciliation_ran
        from trading.metrics import trading_collect

        register_collector("trading", trading_collect)
        checklist_register("reconciliation ran", check_reconciliation_ran)
        checklist_register("kill switches explained", check_kill_switches_explained)
