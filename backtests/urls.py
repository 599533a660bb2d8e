"""Backtest API routes; the project includes them under ``api/v1/``:
``path("api/v1/", include("backtests.urls"))``."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from backtests.views import BacktestRunViewSet

router = SimpleRouter()
router.register("backtests", BacktestRunViewSet, basename="backtest")

urlpatterns = router.urls
