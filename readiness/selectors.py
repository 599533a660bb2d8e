"""Reads of the readiness app."""

from __future__ import annotations

from django.db.models import Max, QuerySet

from readiness.models import ReadinessReport


def readiness_latest_per_model(limit: int = 20) -> QuerySet[ReadinessReport]:
    """The newest readiness verdict of each model (newest first, at most ``limit``): the
    dashboard's "Readiness verdicts" panel. Two queries whatever the number of reports."""
    latest = (ReadinessReport.objects.values("model_id").annotate(last=Max("id"))
              .values("last"))
    return (ReadinessReport.objects.filter(pk__in=latest)
            .select_related("model", "model__instrument").order_by("-id")[:limit])
