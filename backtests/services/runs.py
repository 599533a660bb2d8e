"""Backtest runs: create (validate, store queued, enqueue on commit) and execute (claim, run,
store, finish).

Idempotency lives in the claim (:func:`_claim`): one conditional UPDATE moves the run from
``queued`` to ``running`` and must change exactly one row, so a task delivered twice runs the
backtest once; the loser returns without doing anything. The winner writes a fresh ``claim``
token, and results are stored only while that token still owns the run.

A run stuck in ``running`` because its worker died is claimable again once it is older than
the Celery hard time limit (``CELERY_TASK_TIME_LIMIT``): no live execution can still own it
then, and Redis only redelivers an unacknowledged task after a visibility timeout that is
longer than that limit. So a redelivery after a crash reruns the run; a duplicate delivery
while it runs does not.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from backtests import evidence
from backtests import signals as model_signals
from backtests.engine import BacktestConfig, BacktestResult, prepare_bars, run_backtest
from backtests.engine.data import PRICE_COLUMNS, PreparedBars
from backtests.models import BacktestReport, BacktestRun, BacktestTrade, RunStatus
from backtests.retraining import RetrainPolicy
from backtests.services import storage
from backtests.services.params import (
    SWEEP_SLIPPAGE_PIPS,
    SWEEP_SPREAD_PIPS,
    SWEEP_THRESHOLDS,
    BacktestParams,
    backtest_config_build,
    backtest_params_check,
    backtest_period_check,
    config_json,
    instrument_spec,
    params_display,
    with_cost_defaults,
)
from backtests.sweep import SWEEP_METRICS, run_sweep
from mlops.artifacts import ArtifactError
from mlops.models import MLModel
from mlops.pipeline import FeatureSet
from mlops.services.registry import json_safe
from nusatrade.errors import (
    ConfigurationError,
    DataError,
    NusaTradeError,
    ServiceUnavailableError,
)

logger = logging.getLogger("nusatrade.backtests")
ERROR_LIMIT = 4000
TRADE_BATCH = 1000


def backtest_model_get(model_id: int) -> MLModel:
    """The model (with its instrument) or DataError naming the id."""
    try:
        return MLModel.objects.select_related("instrument").get(pk=model_id)
    except (MLModel.DoesNotExist, ValueError, TypeError):
        raise DataError(f"no ML model with id {model_id}", column="model") from None


def backtest_request_check(model: MLModel, start: date, end: date,
                           params: BacktestParams) -> None:
    """Every rule a new run must pass, cheapest first; DataError naming the field."""
    backtest_params_check(model, params)
    backtest_period_check(model, start, end)
    _validate_runnable_model(model)
    _validate_bars_exist(model, start, end)


def _validate_runnable_model(model: MLModel) -> None:
    """The model's file verifies and its feature set is the code's (cheap: no load)."""
    from mlops import artifacts

    try:
        model_signals.feature_set_for(model)
        artifacts.verify_artifact(model.artifact_path, model.artifact_sha256,
                                  settings.ARTIFACTS_DIR)
    except (ConfigurationError, ArtifactError) as exc:
        raise DataError(str(exc), column="model") from None


def _validate_bars_exist(model: MLModel, start: date, end: date) -> None:
    from marketdata.selectors import bars_range

    symbol = model.instrument.symbol
    first, last, count = bars_range(symbol, model.timeframe)
    if not count or last < model_signals.day_start(start) or first > model_signals.day_end(end):
        stored = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if count else "none"
        raise DataError(f"no {symbol} {model.timeframe} bars are stored from {start} to {end} "
                        f"(stored: {stored})", column="end")


def backtest_run_create(*, model: MLModel | int, start: date, end: date,
                        params: BacktestParams | None = None, user: Any = None,
                        enqueue: bool = True, account: Any = None,
                        retrain: RetrainPolicy | None = None) -> BacktestRun:
    """Validate, store a ``queued`` run and (``enqueue``) queue ``run_backtest`` once the
    transaction commits. DataError (the API's 400) when any rule fails. ``account`` (a
    paper trading account or its id): run with its strategy settings, risk policy and paper
    costs instead of ``params``' (``backtests.services.account``). ``retrain``: a
    retrain-every walk-forward (``backtests.services.retraining``) instead of the model as
    it is."""
    params = params or BacktestParams()
    if not isinstance(model, MLModel):
        model = backtest_model_get(model)
    if account is not None:
        from backtests.services.account import account_params, backtest_account_get

        if not hasattr(account, "pk"):
            account = backtest_account_get(account)
        params = account_params(account, model, params)
    backtest_request_check(model, start, end, params)
    extra: dict[str, Any] = {}
    if retrain is not None:
        from backtests.services.retraining import retrain_request_check

        retrain_request_check(model, start, end, params, retrain)
        extra["retrain"] = retrain.to_dict()
    params = with_cost_defaults(params, model.instrument)
    run = BacktestRun.objects.create(
        model=model, account=account, start=start, end=end, spread_pips=params.spread_pips,
        slippage_pips=params.slippage_pips, lots=params.lots, sl_atr=params.sl_atr,
        tp_atr=params.tp_atr, max_bars_held=params.max_bars_held, use_risk=params.use_risk,
        threshold=model.threshold if params.threshold is None else params.threshold,
        initial_equity=params.initial_equity, sweep=params.sweep,
        commission_per_lot=params.commission_per_lot,
        swap_long_per_lot=params.swap_long_per_lot, swap_short_per_lot=params.swap_short_per_lot,
        leverage=params.leverage, stop_out_level=params.stop_out_level,
        params={"threshold_override": params.threshold is not None, **extra},
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    """Queue the run; if the message broker cannot take it (down, or hung past its socket
    timeouts), the run is marked failed with why, and ServiceUnavailableError (the API's 503)
    says to retry: a run never sits ``queued`` with no task behind it."""
    from backtests.tasks import run_backtest as task

    try:
        task.delay(run_id)
    except Exception as exc:  # kombu OperationalError, redis errors, Celery's retry RuntimeError
        logger.error("backtest run %s could not be queued: %s: %s", run_id,
                     type(exc).__name__, exc)
        BacktestRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.FAILED, finished_at=timezone.now(),
            error=f"could not be queued: the task broker is unavailable ({type(exc).__name__})")
        raise ServiceUnavailableError(
            "the task queue is unavailable; the run was not started, try again shortly") from exc


def run_params(run: BacktestRun) -> BacktestParams:
    """The inputs a stored run was created with."""
    return BacktestParams(
        spread_pips=run.spread_pips, slippage_pips=run.slippage_pips, lots=run.lots,
        sl_atr=run.sl_atr, tp_atr=run.tp_atr, max_bars_held=run.max_bars_held,
        use_risk=run.use_risk,
        threshold=run.threshold if run.params.get("threshold_override") else None,
        initial_equity=run.initial_equity, sweep=run.sweep,
        commission_per_lot=run.commission_per_lot, swap_long_per_lot=run.swap_long_per_lot,
        swap_short_per_lot=run.swap_short_per_lot, leverage=run.leverage,
        stop_out_level=run.stop_out_level)


def _claim(run_id: int) -> uuid.UUID | None:
    """Move the run to ``running`` if it is claimable; the claim token, or None (no-op)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    token = uuid.uuid4()
    claimable = Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, started_at__lt=stale)
    changed = BacktestRun.objects.filter(claimable, pk=run_id).update(
        status=RunStatus.RUNNING, claim=token, started_at=now, attempts=F("attempts") + 1,
        error="")
    return token if changed == 1 else None


def backtest_run_execute(run_id: int, *, feature_set: FeatureSet | None = None) -> BacktestRun:
    """Run a queued backtest and store its results; a no-op for a run already claimed.

    A failure (bad data, a refused model file, anything) ends the run ``failed`` with the
    error text; it is not raised, so a task does not retry a run that cannot succeed.
    DataError when no run has that id (deleted before its task ran).
    """
    token = _claim(run_id)
    if token is None:
        run = BacktestRun.objects.filter(pk=run_id).first()
        if run is None:
            raise DataError(f"no backtest run with id {run_id}")
        logger.info("backtest #%s: not claimable (%s); skipped", run_id, run.status)
        return run
    run = BacktestRun.objects.select_related("model__instrument", "created_by",
                                             "account").get(pk=run_id)
    started = time.perf_counter()
    try:
        outcome = _compute(run, feature_set)
    except Exception as exc:  # any failure is the run's outcome, recorded for its owner
        if not isinstance(exc, NusaTradeError):
            logger.exception("backtest #%s failed", run_id)
        _finish_failed(run_id, token, exc, time.perf_counter() - started)
    else:
        _store(run, token, outcome, time.perf_counter() - started)
    return BacktestRun.objects.get(pk=run_id)


@dataclass(frozen=True)
class Outcome:
    result: BacktestResult
    params: dict[str, Any]
    display: dict[str, str]
    synthetic: bool
    bars: int
    bars_without_prediction: int
    sweep: pd.DataFrame | None
    report: storage.RenderedReport
    evidence: dict[str, Any]


def engine_config(run: BacktestRun, params: BacktestParams) -> BacktestConfig:
    """The engine settings of ``run``: its parameters, and its account's when it has one."""
    config = backtest_config_build(run.model, params)
    if run.account_id is not None:
        from backtests.services.account import account_engine_fields

        config = replace(config, **account_engine_fields(run.account))
    return config


def prepared_bars(signals: model_signals.ModelSignals, config: BacktestConfig) -> PreparedBars:
    """The period's bars for the engine, with the stops' ATR warmed before the period."""
    # The spread is the run's fixed pips; the bars' own spread column (NaN when unknown) is
    # not used, so only prices go to the engine.
    prepared = prepare_bars(signals.bars.loc[:, list(PRICE_COLUMNS)])
    if config.uses_atr:  # warmed on the bars before the period, as the live cycle's ATR
        prepared.set_atr(config.atr_period, signals.atr(config.atr_period))
    return prepared


def _compute(run: BacktestRun, feature_set: FeatureSet | None) -> Outcome:
    if run.params.get("retrain"):  # ``backtest --retrain-every``: a walk-forward of its own
        from backtests.services.retraining import retrain_compute

        return retrain_compute(run, feature_set)
    model = run.model
    params = run_params(run)
    config = engine_config(run, params)
    signals = model_signals.model_probabilities(model, run.start, run.end,
                                                feature_set=feature_set)
    prepared = prepared_bars(signals, config)
    decisions, confidence = signals.decisions(run.threshold)
    result = run_backtest(prepared, decisions, config, confidence=confidence)
    sweep_returns: list = []
    sweep = (sweep_table(prepared, signals, model, params, sweep_returns) if run.sweep
             else None)
    proof = evidence.evidence(result.trades["net_pnl"].to_numpy(), result.equity,
                              config.initial_equity, sweep_returns or None,
                              on_grid=_on_sweep_grid(run))
    display = params_display(model, params, config, run.start, run.end,
                             synthetic=signals.synthetic,
                             bars_without_prediction=signals.bars_without_prediction)
    display["Run"] = f"#{run.pk}" + (f" by {run.created_by}" if run.created_by else "")
    report = storage.render(result, report_title(run, signals.synthetic), display, proof)
    return Outcome(result=result, params={"engine": config_json(config), "display": display,
                                          "threshold_override": params.threshold is not None},
                   display=display, synthetic=signals.synthetic, bars=len(prepared),
                   bars_without_prediction=signals.bars_without_prediction, sweep=sweep,
                   report=report, evidence=proof)


def _on_sweep_grid(run: BacktestRun) -> bool:
    """Whether the run's own spread, slippage and threshold are one of the sweep's
    configurations (if not, the run is one more trial for the Deflated Sharpe)."""
    return (run.spread_pips in SWEEP_SPREAD_PIPS and run.slippage_pips in SWEEP_SLIPPAGE_PIPS
            and round(run.threshold, 4) in SWEEP_THRESHOLDS)


def report_title(run: BacktestRun, synthetic: bool) -> str:
    model = run.model
    title = (f"Backtest #{run.pk}: model #{model.pk} {model.name} v{model.version}, "
             f"{model.instrument.symbol} {model.timeframe}, {run.start} to {run.end}")
    return title + (" (SYNTHETIC DATA)" if synthetic else "")


def sweep_table(prepared: PreparedBars, signals: model_signals.ModelSignals, model: MLModel,
                params: BacktestParams, daily_returns_into: list | None = None) -> pd.DataFrame:
    """The seed's grid (spread 2-5 pips x slippage 1-2 pips x thresholds 0.50-0.70) on the
    run's period with the run's other settings; spread and slippage shown in pips."""
    spec = instrument_spec(model)
    spread = {float(spec.pips(p)): p for p in SWEEP_SPREAD_PIPS}
    slippage = {float(spec.pips(p)): p for p in SWEEP_SLIPPAGE_PIPS}
    grid = {"spread": list(spread), "slippage": list(slippage),
            "threshold": list(SWEEP_THRESHOLDS)}
    table = run_sweep(prepared, signals.decisions, grid, backtest_config_build(model, params),
                      metrics=SWEEP_METRICS, daily_returns_into=daily_returns_into)
    table.insert(0, "spread_pips", [float(spread[v]) for v in table.pop("spread")])
    table.insert(1, "slippage_pips", [float(slippage[v]) for v in table.pop("slippage")])
    return table


def _store(run: BacktestRun, token: uuid.UUID, outcome: Outcome, seconds: float) -> None:
    """Store results if ``token`` still owns the run (a reclaimed run discards them)."""
    fields = storage.result_fields(outcome.result)
    fields["metrics"].update(bars_without_prediction=outcome.bars_without_prediction,
                             evidence=json_safe(outcome.evidence))
    fields["deflated_sharpe"] = outcome.evidence["deflated_sharpe"]["probability"]
    fields["pbo"] = outcome.evidence["pbo"]["pbo"]
    with transaction.atomic():
        owned = list(BacktestRun.objects.select_for_update().filter(
            pk=run.pk, status=RunStatus.RUNNING, claim=token).values_list("pk", flat=True))
        if not owned:
            logger.warning("backtest #%s: claim lost while running; results discarded", run.pk)
            return
        BacktestTrade.objects.filter(run_id=run.pk).delete()
        BacktestTrade.objects.bulk_create(storage.trade_rows(run.pk, outcome.result.trades),
                                          batch_size=TRADE_BATCH)
        BacktestReport.objects.update_or_create(run_id=run.pk, defaults={
            "html": outcome.report.html, "equity_svg": outcome.report.equity_svg,
            "drawdown_svg": outcome.report.drawdown_svg,
            "monthly_svg": outcome.report.monthly_svg})
        BacktestRun.objects.filter(pk=run.pk).update(
            **fields, status=RunStatus.SUCCEEDED, finished_at=timezone.now(),
            duration_seconds=seconds, bars=outcome.bars, synthetic_data=outcome.synthetic,
            params=outcome.params,
            sweep_results=storage.sweep_json(outcome.sweep) if outcome.sweep is not None
            else [])


def _finish_failed(run_id: int, token: uuid.UUID, exc: BaseException, seconds: float) -> None:
    text = str(exc) if isinstance(exc, NusaTradeError) else f"{type(exc).__name__}: {exc}"
    BacktestRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, claim=token).update(
        status=RunStatus.FAILED, error=text[:ERROR_LIMIT], finished_at=timezone.now(),
        duration_seconds=seconds)
