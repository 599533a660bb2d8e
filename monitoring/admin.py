"""Read-only admin of the snapshots and retraining requests (decisions: the dashboard)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from monitoring.models import PerformanceSnapshot, RetrainingRequest


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PerformanceSnapshot)
class PerformanceSnapshotAdmin(_ReadOnly):
    list_display = ("date", "scope_key", "trades", "net_pnl", "win_rate_pct", "profit_factor",
                    "win_rate_p", "drifting")
    list_filter = ("date",)
    list_select_related = ("account", "model")
    search_fields = ("scope_key",)
    date_hierarchy = "date"

    @admin.display(description="win rate")
    def win_rate_pct(self, obj: PerformanceSnapshot) -> str:
        return "-" if obj.win_rate is None else f"{100 * obj.win_rate:.1f}%"

    @admin.display(description="P(win rate | backtest)")
    def win_rate_p(self, obj: PerformanceSnapshot) -> str:
        p = (obj.versus_backtest.get("win_rate_test") or {}).get("p_value")
        return "-" if p is None else f"{p:.3f}"

    @admin.display(description="drifting features")
    def drifting(self, obj: PerformanceSnapshot) -> str:
        features = obj.drift.get("features") or {}
        return ", ".join(features.get("drifting") or []) or "-"


@admin.register(RetrainingRequest)
class RetrainingRequestAdmin(_ReadOnly):
    list_display = ("id", "model", "trigger", "status", "created_at", "decided_by",
                    "decided_at")
    list_filter = ("status", "trigger")
    list_select_related = ("model",)
