"""``backtest --model 3 --retrain-every 3M``: is periodic retraining worth it?

A walk-forward over the backtest period (``backtests.retraining.retrain_schedule``): each
segment is traded by a model trained, with the champion's settings, on data that ends before
the segment (labels purged and embargoed). Then:

1. the champion's settings are its stored ``params["config"]`` (algorithm, hyper-parameters,
   label spec, tuning, splits, seed) and its feature set; each segment model is trained by
   ``mlops.pipeline.train`` exactly as ``model_train`` (and ``retrain``'s challenger) does:
   per-bar spread costs when the bars carry spreads, else the champion's cost. Walk-forward
   folds are switched off: they only add metrics, the deployed estimator is the same;
2. the segment models are KEPT IN MEMORY, never registered: no ``MLModel`` row, no file, no
   swap of the champion. Each is identified in the run's record by the SHA-256 of its fitted
   state (``model_sha256``, ``mlops.artifacts.estimator_digest``: equal across runs for an
   equal model) and of its training bars (``data_sha256``);
3. features are computed once, causally, over the whole loaded series (row t uses bars <= t,
   as the live path); each model predicts only its segment's bars, at its HOLD threshold (the
   run's override, else the one tuned on its own validation window when the champion's
   config tunes, else the champion's); the decisions are stitched;
4. the ONE engine (``run_backtest``) trades the stitched signals on the period's bars with the
   run's costs, and trades the champion's own signals (no retraining) on the same bars with
   the same settings: the comparison. The stitched run is what the ``BacktestRun`` stores
   (trades, metrics, report); ``params["retrain"]`` holds the schedule, per-segment figures,
   the totals, the as-is figures and the difference.

A position open at a segment boundary stays open (the live cycle keeps its position across a
model switch too); its trade counts in the segment it was entered in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from backtests import evidence
from backtests import signals as model_signals
from backtests.engine import BacktestResult, run_backtest
from backtests.metrics import trade_stats
from backtests.retraining import Period, RetrainPolicy, Segment, retrain_schedule, segment_numbers
from backtests.services import storage
from backtests.services.params import BacktestParams, config_json, params_display
from mlops import pipeline
from mlops.artifacts import estimator_digest
from mlops.models import MLModel
from mlops.pipeline import FeatureSet, TrainConfig, TrainResult
from nusatrade.errors import DataError

SEGMENT_KEYS = ("trades", "net_profit", "win_rate", "profit_factor")
TOTAL_KEYS = ("trades", "net_profit", "return_pct", "win_rate", "profit_factor",
              "max_drawdown_pct", "sharpe", "expectancy", "total_costs")


@dataclass(frozen=True)
class Plan:
    """The series a retrain-every run reads and its schedule."""

    bars: pd.DataFrame  # training windows, the features' history and the period
    segments: list[Segment]
    config: TrainConfig  # the champion's
    train_length: Period | pd.Timedelta | None
    embargo: int


def champion_config(model: MLModel) -> TrainConfig:
    """The champion's training settings, as stored at registration."""
    stored = (model.params or {}).get("config")
    if not stored:
        raise DataError(f"model #{model.pk} stores no training configuration: it cannot be "
                        "retrained with its own settings", column="model")
    return TrainConfig.from_dict(stored)


def champion_length(model: MLModel) -> pd.Timedelta:
    """The length of the champion's training window (first to last bar, both included)."""
    from marketdata import timeframes

    return (pd.Timestamp(model.data_end) - pd.Timestamp(model.data_start)
            + timeframes.get(model.timeframe).delta)


def retrain_plan(model: MLModel, start: date, end: date, policy: RetrainPolicy,
                 feature_set: FeatureSet | None = None) -> Plan:
    """Load the bars the run needs and build its schedule (DataError when it cannot run)."""
    from marketdata import timeframes
    from marketdata.selectors import load_bars

    config = champion_config(model)
    feature_set = model_signals.feature_set_for(model, feature_set)
    lower, upper = model_signals.day_start(start), model_signals.day_end(end)
    origin = pd.Timestamp(model.data_start)
    length = policy.train_length
    if policy.window == "sliding" and length is None:
        length = champion_length(model)
    earliest = origin if policy.window == "expanding" else lower - (
        length.offset() if isinstance(length, Period) else length)
    # History before the first training bar: the features' warm-up at the first traded bars
    # when the training window is short (bars exist 5 days in 7: room to spare).
    tf = timeframes.get(model.timeframe)
    lookback = feature_set.lookback_bars or model_signals.DEFAULT_LOOKBACK
    first = min(earliest, lower - tf.delta * int(lookback * 1.5)).floor("D")  # whole days
    bars = load_bars(model.instrument.symbol, tf.name, first, upper)
    segments = retrain_schedule(bars.index, lower, upper, policy.every, policy.window, length,
                                config.label.horizon, config.embargo_bars, origin=origin)
    return Plan(bars, segments, config, length, config.embargo_bars)


def retrain_request_check(model: MLModel, start: date, end: date, params: BacktestParams,
                          policy: RetrainPolicy) -> None:
    """The rules a retrain-every run must pass besides a backtest's; DataError naming them."""
    from mlops.services.training import MIN_BARS

    if params.sweep:
        raise DataError("--sweep is not available with --retrain-every (each segment has its "
                        "own model and threshold): run the sweep without it", column="sweep")
    plan = retrain_plan(model, start, end, policy)
    for segment in plan.segments:
        if segment.train_bars < MIN_BARS:
            raise DataError(
                f"segment {segment.number} (trading from {segment.trade_start:%Y-%m-%d}) has "
                f"{segment.train_bars} bars to train on ({segment.train_start:%Y-%m-%d} to "
                f"{segment.train_end:%Y-%m-%d}); training needs at least {MIN_BARS}: start "
                "later or lengthen --train-length", column="train_length")


def train_segment(plan: Plan, segment: Segment, feature_set: FeatureSet,
                  model: MLModel) -> TrainResult:
    """Fit the segment's model on its training bars only (``plan.bars`` is never passed
    whole: the bars after ``segment.train_end`` do not reach the pipeline)."""
    from mlops.services.training import spread_cost_per_bar

    bars = plan.bars.iloc[segment.train_first:segment.train_stop]
    has_spread = "spread" in bars and bars["spread"].notna().any()
    cost_per_bar = spread_cost_per_bar(model.instrument, bars) if has_spread else None
    config = replace(plan.config, walk_forward=0,
                     cost=0.0 if cost_per_bar is not None else plan.config.cost)
    try:
        return pipeline.train(bars, config, feature_set, cost_per_bar=cost_per_bar)
    except (ValueError, DataError) as exc:
        raise DataError(f"segment {segment.number} (trading from "
                        f"{segment.trade_start:%Y-%m-%d}): training failed: {exc}",
                        column="train_length") from None


@dataclass(frozen=True)
class Stitched:
    """The stitched decisions of the period and the record of each segment's model."""

    decisions: np.ndarray
    confidence: np.ndarray
    proba_up: np.ndarray
    models: list[dict[str, Any]]


def stitched_signals(plan: Plan, feature_set: FeatureSet, model: MLModel,
                     override: float | None) -> Stitched:
    """Train each segment's model, predict its segment, stitch the decisions in time order."""
    features = feature_set.compute(plan.bars)  # causal: row t reads bars <= t only
    parts, records = [], []
    for segment in plan.segments:
        started = time.perf_counter()
        trained = train_segment(plan, segment, feature_set, model)
        threshold, source = segment_threshold(trained, plan.config, model, override)
        rows = slice(segment.trade_first, segment.trade_stop)
        frame = pipeline.predict_frame(trained.model.estimator, trained.model.feature_names,
                                       features.iloc[rows], threshold, feature_set)
        signals = model_signals.ModelSignals(
            bars=plan.bars.iloc[rows], proba_up=frame["proba_up"].to_numpy(np.float64),
            threshold=threshold)
        parts.append((*signals.decisions(), signals.proba_up))
        records.append({**segment.to_dict(), "threshold": threshold,
                        "threshold_source": source,
                        "model_sha256": estimator_digest(trained.model.estimator),
                        "data_sha256": trained.fingerprint,
                        "trained_until": trained.data_end.isoformat(),
                        "seconds": round(time.perf_counter() - started, 2)})
    decisions, confidence, proba = (np.concatenate(p) for p in zip(*parts, strict=True))
    return Stitched(decisions, confidence, proba, records)


def segment_threshold(trained: TrainResult, config: TrainConfig, model: MLModel,
                      override: float | None) -> tuple[float, str]:
    """The HOLD threshold a segment's model trades at, and why."""
    if override is not None:
        return float(override), "the run's --threshold"
    if config.tune:
        return float(trained.model.threshold), "tuned on the segment's own validation window"
    return float(model.threshold), "the champion's"


def retrain_compute(run: Any, feature_set: FeatureSet | None) -> Any:
    """The retrain-every run's ``Outcome`` (``backtests.services.runs``): the stitched
    backtest, the same period traded by the champion as it is, and the schedule's record."""
    from backtests.services import runs

    model = run.model
    params = runs.run_params(run)
    policy = RetrainPolicy.from_dict(run.params["retrain"])
    feature_set = model_signals.feature_set_for(model, feature_set)
    config = runs.engine_config(run, params)
    champion = model_signals.model_probabilities(model, run.start, run.end,
                                                 feature_set=feature_set)
    prepared = runs.prepared_bars(champion, config)
    plan = retrain_plan(model, run.start, run.end, policy, feature_set)
    override = run.threshold if run.params.get("threshold_override") else None
    stitched = stitched_signals(plan, feature_set, model, override)
    period = plan.bars.index[plan.segments[0].trade_first:plan.segments[-1].trade_stop]
    if not period.equals(champion.bars.index):
        raise DataError("the stored bars of the period changed while the run read them: "
                        "run it again", column="end")
    result = run_backtest(prepared, stitched.decisions, config, confidence=stitched.confidence)
    decisions, confidence = champion.decisions(run.threshold)
    as_is = run_backtest(prepared, decisions, config, confidence=confidence)
    record = retrain_record(policy, plan, stitched, result, as_is, run.threshold)
    proof = evidence.evidence(result.trades["net_pnl"].to_numpy(), result.equity,
                              config.initial_equity, None, on_grid=runs._on_sweep_grid(run))
    display = params_display(model, params, config, run.start, run.end,
                             synthetic=champion.synthetic,
                             bars_without_prediction=int(np.isnan(stitched.proba_up).sum()))
    display["Run"] = f"#{run.pk}" + (f" by {run.created_by}" if run.created_by else "")
    display["Threshold (HOLD gate)"] = threshold_text(record)
    display["Retraining"] = policy_text(record)
    title = (f"{runs.report_title(run, champion.synthetic)}, retrained every "
             f"{policy.every} ({policy.window} window)")
    report = storage.render(result, title, display, proof)
    return runs.Outcome(
        result=result, params={"engine": config_json(config), "display": display,
                               "threshold_override": override is not None,
                               "retrain": record},
        display=display, synthetic=champion.synthetic, bars=len(prepared),
        bars_without_prediction=int(np.isnan(stitched.proba_up).sum()), sweep=None,
        report=report, evidence=proof)


def retrain_record(policy: RetrainPolicy, plan: Plan, stitched: Stitched,
                   result: BacktestResult, as_is: BacktestResult,
                   as_is_threshold: float) -> dict[str, Any]:
    """What ``params["retrain"]`` stores and ``backtest --json`` prints (JSON-safe)."""
    from mlops.services.registry import json_safe

    segments = []
    for record, own, champion in zip(stitched.models, per_segment(result, plan.segments),
                                     per_segment(as_is, plan.segments), strict=True):
        segments.append({**record, **own, "as_is": champion})
    totals = {k: result.metrics.get(k) for k in TOTAL_KEYS}
    champion = {k: as_is.metrics.get(k) for k in TOTAL_KEYS}
    return json_safe({
        **policy.to_dict(),
        "train_length_used": _length_text(plan.train_length),
        "horizon": plan.config.label.horizon, "embargo": plan.embargo,
        "models": "kept in memory, not registered (no MLModel row, no file, no swap)",
        "segments": segments, "stitched": totals,
        "as_is": {**champion, "threshold": as_is_threshold},
        "difference": {k: _minus(totals[k], champion[k]) for k in TOTAL_KEYS},
    })


def per_segment(result: BacktestResult, segments: list[Segment]) -> list[dict[str, Any]]:
    """Trades, net, win rate and PF of each segment (a trade counts where it was entered)."""
    trades = result.trades
    numbers = segment_numbers(pd.DatetimeIndex(trades["entry_time"]), segments)
    net = trades["net_pnl"].to_numpy(np.float64)
    return [{k: trade_stats(net[numbers == s.number])[k] for k in SEGMENT_KEYS}
            for s in segments]


def _minus(a: Any, b: Any) -> float | None:
    if a is None or b is None:
        return None
    value = float(a) - float(b)
    return value if np.isfinite(value) else None


def _length_text(length: Period | pd.Timedelta | None) -> str:
    if length is None:
        return "expanding from the champion's training start"
    if isinstance(length, Period):
        return str(length)
    return f"{length.days}D, the champion's training-window length"


def policy_text(record: dict[str, Any]) -> str:
    window = (f"sliding window of {record['train_length_used']}"
              if record["window"] == "sliding" else "expanding window from the champion's "
              "training start")
    return (f"every {record['every']}, {window}; {len(record['segments'])} segments; label "
            f"horizon {record['horizon']} + embargo {record['embargo']} bars purged before "
            "each; segment models kept in memory, not registered")


def threshold_text(record: dict[str, Any]) -> str:
    values = sorted({round(s["threshold"], 2) for s in record["segments"]})
    source = record["segments"][0]["threshold_source"]
    return (f"per segment {', '.join(f'{v:.2f}' for v in values)} ({source}); as-is "
            f"comparison {record['as_is']['threshold']:.2f}")
