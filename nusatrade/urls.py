from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from nusatrade.health import healthz
from nusatrade.metrics.views import metrics

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # The ML monitoring dashboard, on the OTP admin site (before admin/ so it matches first).
    path("admin/dashboard/", include("monitoring.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("backtests.urls")),
    path("api/v1/", include("trading.api.urls")),
    path("api/v1/", include("mlops.api.urls")),
    path("api/v1/", include("monitoring.api.urls")),
    path("api/v1/", include("readiness.api.urls")),
]

# Fail-safe: the schema and Swagger UI exist only when NUSATRADE_ENV says development or test.
if settings.API_DOCS_ENABLED:
    from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

    urlpatterns += [
        path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
        path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    ]

# Malformed requests refused before a view runs (oversized body, too many fields): JSON on /api/.
handler400 = "nusatrade.api.bad_request"
handler404 = "nusatrade.api.not_found"
