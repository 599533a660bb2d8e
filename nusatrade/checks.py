"""Production rules as Django system checks (ids nusatrade.E0xx), shared with the start-up guard."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=False)
def production_settings_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Error(f"{p.setting}: {p.rule}", hint=p.hint or None, id=p.id)
        for p in getattr(settings, "PRODUCTION_PROBLEMS", [])
    ]
