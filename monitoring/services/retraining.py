"""Retraining requests: a decision by an admin, audited (who, when, why).

Approving a request whose better challenger is waiting (``awaiting_approval``) does not
promote it inside the web request: the run becomes ``pending_check`` in the same transaction
as the approval, and ``mlops.retraining_run_promote`` (training queue) runs the challenger's
look-ahead check (seconds to minutes of CPU) and the atomic switch, then records ``promoted``
or ``refused`` on the run. The dashboard and the run's admin page show each state."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import actor_name, audit_record
from monitoring import challenger as cc
from monitoring.models import RetrainingRequest, RetrainingRun, RetrainingStatus
from nusatrade.errors import DataError

logger = logging.getLogger(__name__)
PENDING_CHECK = "pending_check"


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
        waiting = request.runs.filter(decision=cc.AWAIT).order_by("-pk").first()
        if approve and waiting is not None:  # a better challenger was waiting for this approval
            _promotion_queue(waiting.pk, actor_name(actor))
    return request


def _promotion_queue(run_id: int, actor: str) -> None:
    """Mark the run ``pending_check`` (a conditional update: two approvals cannot queue it
    twice) and queue its check and promotion once the transaction commits."""
    if RetrainingRun.objects.filter(pk=run_id, decision=cc.AWAIT).update(
            decision=PENDING_CHECK):
        transaction.on_commit(lambda: _enqueue(run_id, actor))


def _enqueue(run_id: int, actor: str) -> None:
    from monitoring.tasks import retraining_run_promote

    try:
        retraining_run_promote.delay(run_id, actor)
    except Exception as exc:  # broker down or hung: say so on the run, never lose it silently
        logger.error("retraining run %s: promotion could not be queued: %s: %s", run_id,
                     type(exc).__name__, exc)
        detail = RetrainingRun.objects.filter(pk=run_id).values_list("detail", flat=True).first()
        RetrainingRun.objects.filter(pk=run_id, decision=PENDING_CHECK).update(
            decision=cc.AWAIT,
            detail=f"{detail}; approved, but its check could not be queued (task broker "
                   f"unavailable: {type(exc).__name__}): the next retrain round (beat, or "
                   f"manage.py retrain) compares again and promotes a better challenger")
