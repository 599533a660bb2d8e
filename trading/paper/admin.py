"""Read-only admin of the paper broker's book: accounts, positions, deals, orders. These are the
broker's records (what a real broker's server would show); nobody edits them by hand, except
a paper account's fill settings (spread, slippage, commission, stop-out level)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from nusatrade.admin_site import ReadOnlyAdmin
from trading.paper.models import PaperAccount, PaperDeal, PaperOrder, PaperPosition


@admin.register(PaperAccount)
class PaperAccountAdmin(admin.ModelAdmin):
    list_display = ("account", "balance", "currency", "leverage", "spread_pips", "slippage_pips",
                    "commission_per_lot", "stop_out_level", "timeframe", "last_bar")
    list_select_related = ("account",)
    readonly_fields = ("account", "balance", "currency", "leverage", "timeframe", "last_bar",
                       "next_ticket", "created_at", "updated_at")
    search_fields = ("account__name",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PaperPosition)
class PaperPositionAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "paper_account", "symbol", "side", "volume", "price_open", "sl",
                    "tp", "magic", "client_id", "opened_at", "status", "closed_at",
                    "price_close", "close_reason")
    list_filter = ("status", "symbol", "side", "close_reason")
    list_select_related = ("paper_account__account",)
    search_fields = ("client_id", "=ticket", "=magic")


@admin.register(PaperDeal)
class PaperDealAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "paper_account", "time", "symbol", "side", "entry", "volume",
                    "price", "profit", "commission", "swap", "reason", "magic", "client_id",
                    "position_ticket")
    list_filter = ("entry", "reason", "symbol")
    list_select_related = ("paper_account__account",)
    search_fields = ("client_id", "=ticket", "=position_ticket")
    date_hierarchy = "time"


@admin.register(PaperOrder)
class PaperOrderAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "paper_account", "time", "symbol", "side", "volume_initial",
                    "volume_filled", "price", "state", "magic", "client_id", "position_ticket")
    list_filter = ("state", "symbol")
    list_select_related = ("paper_account__account",)
    search_fields = ("client_id", "=ticket")
    date_hierarchy = "time"
