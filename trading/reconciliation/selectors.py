"""Reads of reconciliation runs (monitoring: /metrics and check_production read these)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from trading.models import ReconciliationRun
from trading.models_reconciliation import COMPLETED


def reconciliation_last_success(account_id: int | None = None) -> datetime | None:
    """When the latest run that compared a whole account finished (clean, fixed, or mismatch:
    the comparison itself succeeded; a mismatch is alerted and engages the kill switch),
    for ``account_id`` or any account. ``None``: never. Failed and skipped runs do not count."""
    runs = ReconciliationRun.objects.filter(status__in=COMPLETED,
                                            finished_at__isnull=False)
    if account_id is not None:
        runs = runs.filter(account_id=account_id)
    return runs.order_by("-finished_at").values_list("finished_at", flat=True).first()


def reconciliation_run_list(account_id: int | None = None) -> QuerySet[ReconciliationRun]:
    runs = ReconciliationRun.objects.select_related("account", "kill_switch")
    if account_id is not None:
        runs = runs.filter(account_id=account_id)
    return runs.order_by("-started_at", "-id")
