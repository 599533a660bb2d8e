from __future__ import annotations

from django.apps import AppConfig


class MLOpsConfig(AppConfig):
    name = "mlops"
