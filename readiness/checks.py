"""``READINESS_THRESHOLDS`` as a Django system check (readiness.E001): a misspelt key or a
non-number would otherwise surface only when a readiness run starts."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register()
def readiness_thresholds_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from readiness.criteria import Thresholds

    try:
        Thresholds.from_mapping(getattr(settings, "READINESS_THRESHOLDS", None))
    except ValueError as exc:
        return [checks.Error(str(exc), hint="the READINESS_* settings, docs/readiness.md",
                             id="readiness.E001")]
    return []
