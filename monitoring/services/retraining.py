"""Retraining requests: a decision by an admin, audited (who, when, why)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import actor_name, audit_record
from monitoring.models import RetrainingRequest, RetrainingStatus
from nusatrade.errors import DataError


def retraining_request_decide(request_id: int, *, approve: bool, actor: Any,
                              reason: str) -> RetrainingRequest:
    """Approve or reject a pending request; deciding twice is an error that names the first
    decision (a conditional update: two admins racing cannot both decide)."""
    if not reason or not reason.strip():
        raise DataError("a decision needs a reason", column="reason")
    status = RetrainingStatus.APPROVED if approve else RetrainingStatus.REJECTED
    with transaction.atomic():
        changed = RetrainingRequest.objects.filter(
            pk=request_id, status=RetrainingStatus.PENDING).update(
            status=status, decided_by=actor_name(actor)[:150], decided_at=timezone.now(),
            decision_reason=reason.strip())
        request = RetrainingRequest.objects.filter(pk=request_id).first()
        if request is None:
            raise DataError(f"no retraining request {request_id}", column="request")
        if not changed:
            raise DataError(f"retraining request {request_id} was already {request.status} "
                            f"by {request.decided_by}", column="request")
        audit_record(actor, f"retraining.{'approve' if approve else 'reject'}",
                     target=request, reason=request.decision_reason,
                     details={"model": request.model_id, "trigger": request.trigger})
    waiting = request.runs.filter(decision="awaiting_approval").order_by("-pk").first()
    if approve and waiting is not None:  # a better challenger was waiting for this approval
        from monitoring.services.retrain import retraining_run_promote

        retraining_run_promote(waiting.pk, actor=actor)
    return request
