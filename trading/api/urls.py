"""Trader API routes, included under ``api/v1/`` by the project's URL conf."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from trading.api import views

router = SimpleRouter()
router.register("accounts", views.AccountViewSet, basename="account")
router.register("positions", views.PositionViewSet, basename="position")
router.register("orders", views.OrderViewSet, basename="order")
router.register("signals", views.SignalViewSet, basename="signal")

urlpatterns = [
    path("positions/export.csv", views.PositionExportView.as_view(), name="position-export"),
    *router.urls,
]
