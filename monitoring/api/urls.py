"""``performance/`` routes, included under ``api/v1/`` by the project's URL conf."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from monitoring.api.views import PerformanceViewSet

router = SimpleRouter()
router.register("performance", PerformanceViewSet, basename="performance")

urlpatterns = router.urls
