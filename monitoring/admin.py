"""Read-only admin of the snapshots and retraining requests (decisions: the dashboard)."""

from __future__ import annotations

from django.contrib import admin

from monitoring.models import PerformanceSnapshot, RetrainingRequest
from nusatrade.admin_site import ReadOnlyAdmin


@admin.register(PerformanceSnapshot)
class PerformanceSnapshotAdmin(ReadOnlyAdmin):
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
class RetrainingRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "model", "trigger", "status", "created_at", "decided_by",
                    "decided_at")
    list_filter = ("status", "trigger")
    list_select_related = ("model",)
