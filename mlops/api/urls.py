"""``models/`` routes, included under ``api/v1/`` by the project's URL conf."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from mlops.api.views import MLModelViewSet

router = SimpleRouter()
router.register("models", MLModelViewSet, basename="mlmodel")

urlpatterns = router.urls
