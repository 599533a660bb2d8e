"""``/admin/dashboard/...``: every view behind the OTP admin site's ``admin_view``."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from monitoring import views

site = admin.site
urlpatterns = [
    path("", site.admin_view(views.dashboard), name="monitoring-dashboard"),
    path("killswitch/engage/", site.admin_view(views.kill_switch_engage),
         name="monitoring-killswitch-engage"),
    path("killswitch/<int:switch_id>/release/", site.admin_view(views.kill_switch_release),
         name="monitoring-killswitch-release"),
    path("model/<int:model_id>/activate/", site.admin_view(views.model_activate),
         name="monitoring-model-activate"),
    path("model/<int:model_id>/retire/", site.admin_view(views.model_retire),
         name="monitoring-model-retire"),
    path("retraining/<int:request_id>/<str:verdict>/",
         site.admin_view(views.retraining_decide), name="monitoring-retraining-decide"),
    path("backtest/", site.admin_view(views.backtest_start), name="monitoring-backtest-start"),
    path("trades.csv", site.admin_view(views.trades_export), name="monitoring-trades-export"),
]
