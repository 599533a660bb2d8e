"""Admin of the order path: read-mostly (orders, positions and deals are written by the
services only; risk policies are edited here; kill switches are engaged and released
through their actions: trading/admin_killswitch.py). Behind the OTP admin site."""

from __future__ import annotations

from django.contrib import admin

from nusatrade.admin_site import ReadOnlyAdmin
from trading.admin_killswitch import KillSwitchAdmin
from trading.models import (
    Deal,
    Instrument,
    KillSwitch,
    Order,
    Position,
    ReconciliationItem,
    ReconciliationRun,
    RiskPolicy,
    Signal,
    StrategySettings,
)


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("symbol", "digits", "point", "contract_size", "tick_size", "tick_value",
                    "pip_size", "profit_currency")
    search_fields = ("symbol",)



@admin.register(Signal)
class SignalAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "model", "symbol", "bar_time", "decision", "reason")
    list_filter = ("decision", "symbol")
    list_select_related = ("account", "model")
    search_fields = ("account__name", "reason")
    date_hierarchy = "bar_time"


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "purpose", "side", "volume", "symbol", "status", "retcode",
                    "retcode_text", "attempts", "client_id", "created_at")
    list_filter = ("status", "purpose", "symbol")
    list_select_related = ("account",)
    search_fields = ("idempotency_key", "client_id", "account__name", "=broker_order_ticket")
    date_hierarchy = "created_at"


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "symbol", "side", "volume", "status", "entry_time",
                    "entry_price", "exit_price", "exit_reason", "net_pnl", "broker_ticket")
    list_filter = ("status", "symbol", "exit_reason")
    list_select_related = ("account",)
    search_fields = ("account__name", "=broker_ticket")
    date_hierarchy = "entry_time"


@admin.register(Deal)
class DealAdmin(ReadOnlyAdmin):
    list_display = ("broker_ticket", "account", "symbol", "side", "entry", "volume", "price",
                    "profit", "commission", "swap", "reason", "time")
    list_filter = ("entry", "reason", "symbol")
    list_select_related = ("account",)
    search_fields = ("=broker_ticket", "client_id")


admin.site.register(KillSwitch, KillSwitchAdmin)


@admin.register(RiskPolicy)
class RiskPolicyAdmin(admin.ModelAdmin):
    list_display = ("account", "lots", "max_trades_per_day", "one_position_per_symbol",
                    "daily_loss_stop_pct", "max_consecutive_losses", "min_profit_factor",
                    "min_win_rate_pct", "max_drawdown_pct")
    list_select_related = ("account",)


@admin.register(StrategySettings)
class StrategySettingsAdmin(admin.ModelAdmin):
    """How each account trades (defaults: the ``backtest`` command's)."""

    list_display = ("account", "symbol", "timeframe", "lots", "risk_per_trade_pct", "sl_atr",
                    "tp_atr", "atr_period", "max_bars_held", "exit_on_opposite", "threshold",
                    "updated_at")
    list_filter = ("symbol", "timeframe", "exit_on_opposite")
    list_select_related = ("account",)
    search_fields = ("account__name",)


class ReconciliationItemInline(admin.TabularInline):
    model = ReconciliationItem
    extra = 0
    can_delete = False
    fields = ("kind", "severity", "action", "position", "order", "broker_ticket", "message",
              "expected", "found")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    """Runs are written by ``trading.reconciliation`` only: read-only, items inline."""

    list_display = ("id", "account", "status", "triggered_by", "started_at", "finished_at",
                    "findings", "fixed", "reported", "unsafe", "kill_switch")
    list_filter = ("status", "triggered_by", "account")
    list_select_related = ("account", "kill_switch")
    search_fields = ("account__name", "error")
    date_hierarchy = "started_at"
    inlines = [ReconciliationItemInline]


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(ReadOnlyAdmin):
    list_display = ("id", "run", "kind", "severity", "action", "position", "broker_ticket",
                    "message")
    list_filter = ("kind", "severity", "action")
    list_select_related = ("run",)
    search_fields = ("message", "=broker_ticket")
