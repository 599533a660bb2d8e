"""``readiness/`` routes, included under ``api/v1/`` by the project's URL conf."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from readiness.api.views import ReadinessReportViewSet

router = SimpleRouter()
router.register("readiness", ReadinessReportViewSet, basename="readiness")

urlpatterns = router.urls
