"""Read-only admin of the snapshots, retraining requests and runs (decisions: the dashboard)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from monitoring import permissions
from monitoring.models import PerformanceSnapshot, RetrainingRequest, RetrainingRun
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


@admin.register(RetrainingRun)
class RetrainingRunAdmin(ReadOnlyAdmin):
    """Champion/challenger runs; ``pending_check``: approved, the look-ahead check and the
    switch are queued on the training queue (then ``promoted`` or ``refused``)."""

    list_display = ("id", "champion", "challenger", "state", "window_start", "window_end",
                    "created_at", "promoted_at")
    list_filter = ("decision",)
    list_select_related = ("champion", "challenger")

    @admin.display(description="decision", ordering="decision")
    def state(self, obj: RetrainingRun) -> str:
        return obj.decision.replace("_", " ")

    # The dashboard links here: whoever may view the dashboard (admins, ops) may view runs.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return permissions.allowed(request.user, "view") or super().has_module_permission(
            request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.allowed(request.user, "view") or super().has_view_permission(
            request, obj)
