"""Admin of the order path: read-mostly (orders, positions and deals are written by the
services only; kill switches and risk policies are edited here). Behind the OTP admin site."""

from __future__ import annotations

from django.contrib import admin

from trading.models import (
    Deal,
    Instrument,
    KillSwitch,
    Order,
    Position,
    RiskPolicy,
    Signal,
    StrategySettings,
)


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("symbol", "digits", "point", "contract_size", "tick_size", "tick_value",
                    "pip_size", "profit_currency")
    search_fields = ("symbol",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services: viewable, never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


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


@admin.register(KillSwitch)
class KillSwitchAdmin(admin.ModelAdmin):
    list_display = ("id", "scope", "account", "model", "engaged", "rule", "reason", "engaged_by",
                    "engaged_at", "released_by", "released_at")
    list_filter = ("engaged", "scope")
    list_select_related = ("account", "model")
    readonly_fields = ("engaged_at",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False   # history: release a switch, never delete it


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
