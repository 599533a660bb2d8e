"""Celery task of the readiness app: a thin wrapper that takes ids and ISO dates."""

from __future__ import annotations

from datetime import date

from celery import shared_task


@shared_task(name="readiness.run", acks_late=True, reject_on_worker_lost=True)
def run(model_id: int, start: str | None = None, days: int = 30, user_id: int | None = None,
        report_path: str | None = None, activate: bool = False) -> int:
    """``readiness_run`` on a worker (training queue); returns the stored report's id.

    Not idempotent by design: a redelivery (a worker lost mid-run) runs the readiness again
    and stores a second report on a second paper account; nothing is half-stored, since the
    report is written in one transaction at the end. A refused run raises ReadinessRefused
    (the caller's ``.get()`` re-raises it)."""
    from pathlib import Path

    from accounts.models import User
    from readiness.services import readiness_run

    user = User.objects.filter(pk=user_id).first() if user_id else None
    report = readiness_run(int(model_id), start=date.fromisoformat(start) if start else None,
                           days=int(days), user=user,
                           report_path=Path(report_path) if report_path else None,
                           activate=bool(activate),
                           ran_by=None if user else "task readiness.run")
    return report.pk
