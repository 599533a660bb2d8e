"""``retrain``: challenger training, champion/challenger evaluation and (maybe) promotion.

1. The champion is the active model of the series. With ``if_flagged``, nothing happens
   unless it has a pending or approved ``RetrainingRequest``.
2. The evaluation window is the last ``RETRAIN_EVAL_DAYS`` (90) days of stored bars, and
   never before the end of the champion's training window (out of sample for both). The
   challenger is trained with the champion's settings (``params["config"]``) on the bars
   BEFORE that window, so the window is out of sample for it.
3. Both are backtested on the window through the backtester, with its default costs
   (``backtest_run_create`` + ``backtest_run_execute``, synchronous here: this runs on the
   training queue).
4. ``monitoring.challenger.compare`` / ``decide``: promoted only when better by
   ``RETRAIN_MARGIN`` (percentage points of return) AND approved, or when
   ``RETRAIN_AUTO_PROMOTE`` is on. Promotion is ``mlops.services.model_activate`` (one
   transaction, the series' instrument row locked; the one-active-model-per-series
   constraint holds) after a look-ahead check of the challenger.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from mlops.models import MLModel
from monitoring import challenger as cc
from monitoring.models import RetrainingRequest, RetrainingRun, RetrainingStatus
from nusatrade.errors import DataError

ACTOR = "system:retrain"


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def _open_request(model: MLModel) -> RetrainingRequest | None:
    return (RetrainingRequest.objects.filter(model=model, status__in=[
        RetrainingStatus.PENDING, RetrainingStatus.APPROVED]).order_by("-created_at").first())


def _backtest(model: MLModel, start: Any, end: Any) -> Any:
    from backtests.services.runs import backtest_run_create, backtest_run_execute

    run = backtest_run_create(model=model, start=start, end=end, enqueue=False)
    return backtest_run_execute(run.pk)


def retrain(symbol: str = "XAUUSD", timeframe: str = "H1", *, if_flagged: bool = False,
            actor: Any = ACTOR) -> RetrainingRun | None:
    """Run one champion/challenger round; None when ``if_flagged`` and nothing is flagged."""
    from marketdata.selectors import bars_range
    from mlops.pipeline import TrainConfig
    from mlops.selectors import model_active
    from mlops.services.training import model_train

    champion = model_active(symbol, timeframe)
    if champion is None:
        raise DataError(f"no active model for {symbol} {timeframe}: nothing to challenge",
                        column="symbol")
    request = _open_request(champion)
    if if_flagged and request is None:
        return None
    _, last, count = bars_range(champion.instrument.symbol, champion.timeframe)
    if not count:
        raise DataError(f"no {symbol} {timeframe} bars stored", column="symbol")
    from backtests.services.params import first_allowed_day

    # Out of sample for BOTH: after the champion's training window (the backtester refuses
    # anything else) and the challenger is trained on the bars before it.
    window_start = max(first_allowed_day(champion),
                       (last - timedelta(days=int(_setting("RETRAIN_EVAL_DAYS", 90)))).date())
    if window_start >= last.date():
        raise DataError(f"model #{champion.pk} was trained up to {champion.data_end:%Y-%m-%d}: "
                        f"no out-of-sample bars after it to compare on (last bar "
                        f"{last:%Y-%m-%d})", column="symbol")
    config = TrainConfig.from_dict((champion.params or {}).get("config") or {})
    challenger = model_train(symbol=symbol, timeframe=timeframe, config=config,
                             end=window_start - timedelta(days=1), name=champion.name)
    champion_bt = _backtest(champion, window_start, last.date())
    challenger_bt = _backtest(challenger, window_start, last.date())
    comparison = cc.compare(champion_bt.metrics or {}, challenger_bt.metrics or {},
                            margin=float(_setting("RETRAIN_MARGIN", 1.0)),
                            min_trades=int(_setting("RETRAIN_MIN_TRADES", 10)))
    approved = request is not None and request.status == RetrainingStatus.APPROVED
    decision = cc.decide(comparison, approved=approved,
                         auto_promote=bool(_setting("RETRAIN_AUTO_PROMOTE", False)))
    run = RetrainingRun.objects.create(
        champion=champion, challenger=challenger, request=request, window_start=window_start,
        window_end=last.date(), champion_backtest=champion_bt,
        challenger_backtest=challenger_bt, comparison=comparison.to_dict(), decision=decision,
        detail=comparison.reason)
    audit_record(actor, "retraining.compare", target=run, reason=comparison.reason,
                 details={"decision": decision, **comparison.to_dict()})
    if decision == cc.PROMOTE:
        run = retraining_run_promote(run.pk, actor=actor)
    return run


def retraining_run_promote(run_id: int, *, actor: Any) -> RetrainingRun:
    """Switch to the run's challenger (look-ahead check, then the atomic activation). Only a
    run that found the challenger better and was approved (``promote``; ``pending_check``:
    approved on the dashboard, queued) may promote; a refusal is recorded on the run.

    Idempotent (the task may be delivered twice): a run already ``promoted`` or ``refused`` is
    returned as it is, and only the delivery whose conditional update moves the run to
    ``promoted`` writes the audit entry. ``actor``: a user, or a username / ``system:...``
    name (the task passes names; a username is resolved to its user for the registry)."""
    from mlops.services import model_activate
    from mlops.services.lookahead import model_check_lookahead
    from monitoring.services.retraining import PENDING_CHECK
    from nusatrade.errors import NusaTradeError

    run = RetrainingRun.objects.select_related("challenger", "champion").get(pk=run_id)
    if run.decision in ("promoted", "refused"):
        return run
    if run.decision not in (cc.PROMOTE, PENDING_CHECK):
        raise DataError(f"retraining run {run_id} is {run.decision}: nothing to promote",
                        column="run")
    user = _user(actor)
    ready = (cc.PROMOTE, PENDING_CHECK)
    try:
        model_check_lookahead(run.challenger,
                              **_setting("RETRAIN_LOOKAHEAD", {"points": 50, "window": 1000}))
        model_activate(run.challenger, user,
                       f"challenger of model #{run.champion_id}: {run.detail}")
    except NusaTradeError as exc:
        if RetrainingRun.objects.filter(pk=run.pk, decision__in=ready).update(
                decision="refused", detail=f"{run.detail}; refused: {exc}"):
            audit_record(actor, "model.promote_refused", target=run.challenger,
                         reason=str(exc), details={"run": run.pk})
        raise
    with transaction.atomic():
        if RetrainingRun.objects.filter(pk=run.pk, decision__in=ready).update(
                decision="promoted", promoted_at=timezone.now()):
            audit_record(actor, "model.promote", target=run.challenger, reason=run.detail,
                         details={"run": run.pk, "replaced": run.champion_id})
    run.refresh_from_db()
    return run


def _user(actor: Any) -> Any:
    """The user behind ``actor`` (None for a system name), for the registry's own audit."""
    if not isinstance(actor, str):
        return actor
    from accounts.models import User

    return User.objects.filter(username=actor).first()
