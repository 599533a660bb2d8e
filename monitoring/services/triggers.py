"""``retraining_triggers_check``: turn a model snapshot's fired triggers into pending
``RetrainingRequest`` rows and alerts. At most one pending request per model and trigger (a
partial unique constraint): a trigger that keeps firing day after day does not pile up
requests nor alerts; once decided, the next firing asks again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.audit import audit_record
from monitoring import triggers
from monitoring.models import PerformanceSnapshot, RetrainingRequest, RetrainingStatus
from nusatrade.alerts import AlertKind, alert_send


def trigger_config() -> triggers.TriggerConfig:
    return triggers.TriggerConfig.from_mapping(getattr(settings, "RETRAINING_TRIGGERS", None))


def retraining_triggers_check(snapshot: PerformanceSnapshot, *,
                              now: datetime) -> list[RetrainingRequest]:
    """New pending requests for the triggers that fire on a model-scope ``snapshot``."""
    if snapshot.model_id is None or snapshot.account_id is not None:
        return []
    model = snapshot.model
    age = (now - model.data_end).total_seconds() / 86400 if model.data_end else None
    fired = triggers.evaluate((snapshot.figures or {}).get("all") or {},
                              snapshot.versus_backtest, snapshot.drift, age, trigger_config())
    return [r for f in fired if (r := _request(snapshot, f)) is not None]


def _request(snapshot: PerformanceSnapshot, fired: triggers.Fired) -> RetrainingRequest | None:
    evidence: dict[str, Any] = {**fired.evidence, "snapshot": snapshot.pk,
                                "date": str(snapshot.date)}
    try:
        with transaction.atomic():
            if RetrainingRequest.objects.filter(model_id=snapshot.model_id,
                                                trigger=fired.trigger,
                                                status=RetrainingStatus.PENDING).exists():
                return None
            request = RetrainingRequest.objects.create(model_id=snapshot.model_id,
                                                       trigger=fired.trigger,
                                                       evidence=evidence)
            audit_record("system:monitoring", "retraining.request", target=request,
                         reason=f"trigger {fired.trigger}", details=evidence)
    except IntegrityError:  # another run created the same pending request meanwhile
        return None
    alert_send(AlertKind.RETRAINING_REQUESTED,
               f"Retraining requested for model #{snapshot.model_id}: {fired.trigger}",
               "Approve or reject it on the admin dashboard.",
               fields={k: v for k, v in evidence.items() if not isinstance(v, list | dict)},
               key=f"{snapshot.model_id}:{fired.trigger}")
    return request
