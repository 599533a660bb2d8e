from __future__ import annotations

from django.apps import AppConfig


class ReadinessConfig(AppConfig):
    """The readiness verdict (issue 15): is a model ready for real money? Orchestration layer:
    it runs the held-out backtest (backtests), the replay through the real cycle (trading),
    reconciliation, the tracker (monitoring) and the look-ahead check (mlops); nothing imports
    it except the URLs, the admin and the API."""

    name = "readiness"
    verbose_name = "Readiness"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from readiness import checks  # noqa: F401  (registers readiness.E001)
