"""The training pipeline: bars -> features + labels -> purged splits -> fit -> metrics (no Django).

One procedure fits a model (``fit_procedure``); the final model and every walk-forward fold run
the same procedure, so walk-forward results measure exactly what gets deployed:

    training window ──holdout_split──▶ fit part │gap│ validation part (most recent)
      fit part:        the estimator is fitted here
      validation part: permutation importance (and feature selection), optional calibration,
                       the threshold table (and the threshold, when tuning)
    test window (after a purge + embargo gap): evaluated once, never used to choose anything.

The deployed estimator is the one fitted on the fit part: its calibration and threshold were
chosen for exactly that estimator.

Selection does not grade its own homework: the threshold is tuned on the inner validation
part of each training window, and what a model is judged (and chosen, and automatically
activated) on is its pooled walk-forward out-of-sample result, whose folds each tuned their
own threshold on their own inner window. ``metrics["selection"]`` reports both figures and
the optimism of the tuning (validation minus out-of-sample net expectancy), and
``metrics["threshold_search"]`` the Deflated Sharpe and PBO of the threshold grid.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlops import algorithms, evaluation, gating, splits, stats
from mlops.labels import BUY, LabelSpec, make_labels
from nusatrade.errors import DataError

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FeatureSet:
    """A feature function and its identity (name + hash of the code that computes it)."""

    id: str
    compute: Callable[[pd.DataFrame], pd.DataFrame]
    valid: Callable[[pd.DataFrame], pd.Series] | None = None
    lookback_bars: int | None = None
    # (bars, n_last) -> the last n_last rows from a bounded window (the live cycle's way)
    latest: Callable[[pd.DataFrame, int], pd.DataFrame] | None = None
    # What the model fingerprint hashes as "the feature code" (mlops.identity): module names
    # and/or callables; empty = the source of compute, valid and latest.
    code: tuple[Any, ...] = ()
    # Options the id already reflects (e.g. the day boundary), stored with the fingerprint.
    options: dict[str, Any] = field(default_factory=dict)

    def code_items(self) -> tuple[Any, ...]:
        return self.code or tuple(f for f in (self.compute, self.valid, self.latest) if f)

    def latest_rows(self, bars: pd.DataFrame, n_last: int = 1) -> pd.DataFrame:
        if self.latest is not None:
            return self.latest(bars, n_last)
        window = bars if self.lookback_bars is None else bars.iloc[-(self.lookback_bars
                                                                      + n_last - 1):]
        return self.compute(window).iloc[-n_last:]

    def valid_rows(self, features: pd.DataFrame) -> pd.Series:
        if self.valid is not None:
            return self.valid(features).astype(bool)
        return pd.Series(np.isfinite(features.to_numpy(np.float64)).all(axis=1),
                         index=features.index)


def default_feature_set(day_boundary: str | None = None) -> FeatureSet:
    """The production features of ``mlops.features`` (D1 on the forex day unless
    ``day_boundary="utc"``)."""
    from mlops import features

    boundary = day_boundary or features.DAY_BOUNDARY
    return FeatureSet(features.feature_set_id(boundary),
                      partial(features.compute_features, day_boundary=boundary),
                      features.valid_rows, features.LOOKBACK_BARS,
                      partial(features.compute_latest_features, day_boundary=boundary),
                      code=features.CODE_MODULES, options={"day_boundary": boundary})


def feature_set_for_id(feature_set_id: str) -> FeatureSet:
    """The production feature set whose id is ``feature_set_id`` (one per day boundary), or the
    default one when none is (the caller's id check then names both)."""
    from mlops import features

    for boundary in features.DAY_BOUNDARIES:
        if features.feature_set_id(boundary) == feature_set_id:
            return default_feature_set(boundary)
    return default_feature_set()


@dataclass(frozen=True)
class TrainConfig:
    algorithm: str = "random_forest"
    params: dict[str, Any] = field(default_factory=dict)
    label: LabelSpec = field(default_factory=LabelSpec)
    threshold: float = gating.DEFAULT_THRESHOLD
    tune: bool = False
    cost: float = 0.0
    min_trades: int = gating.DEFAULT_MIN_TRADES
    test_fraction: float = 0.2
    validation_fraction: float = 0.2
    embargo: int | None = None
    walk_forward: int = 0
    expanding: bool = True
    calibrate: bool = False
    select_features: bool = False
    importance_repeats: int = 5
    importance_rows: int = 5000
    seed: int = 42
    n_jobs: int | None = None
    confidence: float = stats.DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        gating.validate_threshold(self.threshold)
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError("confidence must be from 0.5 to below 1")
        algorithms.resolve_params(self.algorithm, self.params)
        splits.resolve_embargo(self.label.horizon, self.embargo)
        if self.cost < 0:
            raise ValueError("cost must not be negative")

    @property
    def embargo_bars(self) -> int:
        return splits.resolve_embargo(self.label.horizon, self.embargo)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "label": LabelSpec.from_dict(data.get("label", {}))})


@dataclass(frozen=True)
class Dataset:
    """Consecutive bars from the first valid feature row to the last known outcome."""

    times: pd.DatetimeIndex
    X: np.ndarray
    feature_names: list[str]
    label: np.ndarray  # +1 / -1 / NaN
    pnl_long: np.ndarray
    pnl_short: np.ndarray
    usable: np.ndarray  # features valid and a direction label: train / classify
    tradable: np.ndarray  # features valid and the outcome known: cost the trades

    @property
    def n(self) -> int:
        return len(self.times)


def build_dataset(bars: pd.DataFrame, feature_set: FeatureSet, spec: LabelSpec,
                  features: pd.DataFrame | None = None) -> Dataset:
    features = feature_set.compute(bars) if features is None else features
    labels = make_labels(bars, spec)
    valid = feature_set.valid_rows(features).to_numpy()
    known = labels[["pnl_long", "pnl_short"]].notna().all(axis=1).to_numpy()
    rows = np.flatnonzero(valid & known)
    if len(rows) == 0:
        raise DataError(f"no bar has both valid features and a known outcome ({len(bars)} bars)")
    span = slice(rows[0], rows[-1] + 1)
    label = labels["label"].to_numpy()[span]
    return Dataset(
        times=bars.index[span],
        X=features.iloc[span].to_numpy(np.float64),
        feature_names=[str(c) for c in features.columns],
        label=label,
        pnl_long=labels["pnl_long"].to_numpy()[span],
        pnl_short=labels["pnl_short"].to_numpy()[span],
        usable=valid[span] & known[span] & ~np.isnan(label),
        tradable=valid[span] & known[span],
    )


def bars_fingerprint(bars: pd.DataFrame) -> str:
    """SHA-256 of the bar times and OHLC: tells whether the data changed since training."""
    digest = hashlib.sha256(bars.index.asi8.tobytes())
    for col in ("open", "high", "low", "close"):
        digest.update(bars[col].to_numpy(np.float64).tobytes())
    return digest.hexdigest()


def proba_up(estimator: Any, X: np.ndarray) -> np.ndarray:
    """Probability of the up class (+1) per row.

    One OpenMP thread: prediction is cheap, and on a busy 2-core machine gradient boosting's
    spinning OpenMP threads made each call ~8x slower (bench/bench_training.py).
    """
    column = list(estimator.classes_).index(BUY)
    with threadpool_limits(limits=1, user_api="openmp"):
        return estimator.predict_proba(X)[:, column]


def fit_estimator(config: TrainConfig, X: np.ndarray, y: np.ndarray) -> Any:
    if len(np.unique(y)) < 2:
        raise DataError(f"training rows hold one class only ({len(y)} rows)")
    n_jobs = config.n_jobs or algorithms.machine_cores()
    estimator = algorithms.build_estimator(config.algorithm, config.params, n_jobs, config.seed)
    # Gradient boosting uses OpenMP threads: bound them like the forest's n_jobs.
    with threadpool_limits(limits=n_jobs, user_api="openmp"):
        estimator.fit(X, y)
    return algorithms.single_threaded(estimator)


@dataclass
class FittedModel:
    estimator: Any
    feature_names: list[str]
    columns: np.ndarray  # positions of feature_names in the dataset's columns
    threshold: float
    fit_rows: np.ndarray
    val_rows: np.ndarray
    importances: list[evaluation.FeatureImportance] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    tuning: gating.ThresholdChoice | None = None
    tuning_error: str | None = None
    fit_seconds: float = 0.0

    def proba(self, ds: Dataset, rows: np.ndarray) -> np.ndarray:
        return proba_up(self.estimator, ds.X[np.ix_(rows, self.columns)])


def fit_procedure(ds: Dataset, train_rows: np.ndarray, config: TrainConfig,
                  with_importance: bool = True) -> FittedModel:
    """Fit on the older part of ``train_rows``; select, calibrate and tune on the newer part."""
    inner = splits.holdout_split(train_rows, config.validation_fraction, config.label.horizon,
                                 config.embargo_bars)
    fit_rows, val_rows = inner.train[ds.usable[inner.train]], inner.test
    usable_val = val_rows[ds.usable[val_rows]]
    columns = np.arange(len(ds.feature_names))
    started = time.perf_counter()
    estimator = fit_estimator(config, ds.X[fit_rows], ds.label[fit_rows].astype(np.int64))
    model = FittedModel(estimator, list(ds.feature_names), columns, config.threshold,
                        fit_rows, val_rows, fit_seconds=time.perf_counter() - started)
    if with_importance or config.select_features:
        _importance_and_selection(model, ds, usable_val, config)
    if config.calibrate:
        model.estimator = algorithms.calibrate(
            model.estimator, ds.X[np.ix_(usable_val, model.columns)],
            ds.label[usable_val].astype(np.int64))
    if config.tune:
        _tune(model, ds, config)
    return model


def _importance_and_selection(model: FittedModel, ds: Dataset, rows: np.ndarray,
                              config: TrainConfig) -> None:
    with threadpool_limits(limits=1, user_api="openmp"):  # many small predictions: see proba_up
        model.importances = evaluation.permutation_importances(
            model.estimator, ds.X[rows], ds.label[rows].astype(np.int64), ds.feature_names,
            n_repeats=config.importance_repeats, seed=config.seed,
            max_rows=config.importance_rows)
    if not config.select_features:
        return
    kept, model.dropped = evaluation.select_features(model.importances)
    if not model.dropped:
        return
    model.columns = np.array([ds.feature_names.index(f) for f in kept])
    model.feature_names = list(kept)
    started = time.perf_counter()
    model.estimator = fit_estimator(config, ds.X[np.ix_(model.fit_rows, model.columns)],
                                    ds.label[model.fit_rows].astype(np.int64))
    model.fit_seconds += time.perf_counter() - started


def _tune(model: FittedModel, ds: Dataset, config: TrainConfig) -> None:
    rows = model.val_rows[ds.tradable[model.val_rows]]
    try:
        model.tuning = gating.choose_threshold(
            model.proba(ds, rows), ds.pnl_long[rows], ds.pnl_short[rows], config.cost,
            config.min_trades)
        model.threshold = model.tuning.threshold
    except ValueError as exc:  # too few trades at every threshold: keep the configured one
        model.tuning_error = str(exc)


def evaluate_rows(model: FittedModel, ds: Dataset, rows: np.ndarray, cost: float,
                  horizon: int = 1) -> dict[str, Any]:
    """Every metric of ``model`` (at its threshold) on the bars of ``rows`` with an outcome."""
    rows = rows[ds.tradable[rows]]
    if len(rows) == 0:
        raise DataError("evaluation window has no bar with a known outcome")
    return evaluation.evaluate(ds.label[rows], model.proba(ds, rows), ds.pnl_long[rows],
                               ds.pnl_short[rows], model.threshold, cost, horizon)


def oos_net(model: FittedModel, ds: Dataset, rows: np.ndarray, cost: float) -> np.ndarray:
    """Net P/L per trade of ``model`` on ``rows`` (time order): what pooled intervals use."""
    rows = rows[ds.tradable[rows]]
    return gating.trade_pnl(gating.gate(model.proba(ds, rows), model.threshold),
                            ds.pnl_long[rows], ds.pnl_short[rows], cost)


def _range(ds: Dataset, rows: np.ndarray) -> dict[str, Any]:
    return {"start": ds.times[rows[0]].isoformat(), "end": ds.times[rows[-1]].isoformat(),
            "bars": len(rows), "labelled": int(ds.usable[rows].sum())}


def _fold_summary(ds: Dataset, fold: splits.Fold, model: FittedModel,
                  metrics: dict[str, Any]) -> dict[str, Any]:
    trades = metrics["trades"]
    return {
        "fold": fold.index, "train_bars": len(fold.train), "test_bars": len(fold.test),
        "train_end": ds.times[fold.train[-1]].isoformat(),
        "test_start": ds.times[fold.test[0]].isoformat(),
        "test_end": ds.times[fold.test[-1]].isoformat(), "threshold": model.threshold,
        **{k: metrics[k] for k in ("accuracy", "roc_auc", "log_loss", "brier", "coverage",
                                   "gated_accuracy", "gated_accuracy_ci", "gated_hits",
                                   "gated_n", "baseline", "effective_n")},
        "n_labelled": metrics["n"], "n_trades": trades["n_trades"],
        "expectancy": trades["expectancy"], "total": trades["total"],
        "expectancy_ci": trades["intervals"]["expectancy"], "cost": metrics["cost"],
        "validation_expectancy": (model.tuning.row.expectancy if model.tuning is not None
                                  else None),
    }


WEIGHTED_KEYS = ("accuracy", "roc_auc", "log_loss", "brier", "coverage", "gated_accuracy",
                 "expectancy")


def summarize_folds(folds: list[dict[str, Any]], pooled_net: np.ndarray | None = None,
                    horizon: int = 1,
                    confidence: float = stats.DEFAULT_CONFIDENCE) -> dict[str, Any]:
    """Per metric: the mean weighted by fold size (labelled rows; trades for the
    expectancy), the plain mean and the std; pooled figures over all folds' test bars, with
    intervals: accuracy when trading (Wilson) and the net expectancy (block bootstrap over the
    pooled out-of-sample trades, ``pooled_net``)."""
    def stat(key: str) -> dict[str, float | None]:
        values = [f[key] for f in folds if f[key] is not None]
        weight_key = "n_trades" if key == "expectancy" else "n_labelled"
        weighted = stats.weighted_mean([f[key] for f in folds],
                                       [f[weight_key] for f in folds])
        if not values:
            return {"mean": None, "std": None, "weighted": None}
        return {"mean": float(np.mean(values)), "std": float(np.std(values)),
                "weighted": weighted}

    n_labelled = sum(f["n_labelled"] for f in folds)
    n_trades = sum(f["n_trades"] for f in folds)
    hits, traded = sum(f.get("gated_hits", 0) for f in folds), sum(f.get("gated_n", 0)
                                                                   for f in folds)
    summary = {
        **{k: stat(k) for k in WEIGHTED_KEYS},
        "pooled_accuracy": sum(f["accuracy"] * f["n_labelled"] for f in folds) / n_labelled,
        "pooled_gated_accuracy_ci": stats.wilson_interval(hits, traded),
        "baseline_accuracy": stats.weighted_mean(
            [(f.get("baseline") or {}).get("accuracy") for f in folds],
            [f["n_labelled"] for f in folds]),
        "effective_n": sum(f.get("effective_n") or 0 for f in folds),
        "n_trades": n_trades,
        "pooled_expectancy": (sum(f["total"] for f in folds) / n_trades) if n_trades else None,
    }
    if pooled_net is not None:
        summary["pooled_intervals"] = stats.trade_intervals(pooled_net, horizon=horizon,
                                                            confidence=confidence)
        summary["pooled_lower_bound"] = stats.lower_bound(pooled_net, horizon=horizon,
                                                          confidence=confidence)
    return summary


def window_cost(cost_rows: np.ndarray | None, rows: np.ndarray, default: float) -> float:
    """The round-trip cost of a window: the median per-bar cost (spread) over its TRAINING
    rows only; ``default`` (the configured cost) without per-bar costs."""
    if cost_rows is None:
        return default
    values = cost_rows[rows]
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else default


def run_walk_forward(ds: Dataset, config: TrainConfig,
                     progress: Callable[[str], None] | None = None,
                     cost_rows: np.ndarray | None = None) -> dict[str, Any]:
    folds = splits.walk_forward(ds.n, config.walk_forward, config.label.horizon,
                                config.embargo_bars, expanding=config.expanding)
    results, nets = [], []
    for fold in folds:
        if progress:
            progress(f"walk-forward fold {fold.index + 1}/{len(folds)}")
        fold_config = replace(config, cost=window_cost(cost_rows, fold.train, config.cost))
        model = fit_procedure(ds, fold.train, fold_config, with_importance=False)
        metrics = evaluate_rows(model, ds, fold.test, fold_config.cost, config.label.horizon)
        metrics["cost"] = fold_config.cost
        results.append(_fold_summary(ds, fold, model, metrics))
        nets.append(oos_net(model, ds, fold.test, fold_config.cost))
    pooled = np.concatenate(nets) if nets else np.zeros(0)
    return {"n_folds": len(folds), "expanding": config.expanding, "folds": results,
            "summary": summarize_folds(results, pooled, config.label.horizon,
                                       config.confidence)}


@dataclass
class TrainResult:
    model: FittedModel
    config: TrainConfig
    metrics: dict[str, Any]
    data_start: pd.Timestamp
    data_end: pd.Timestamp
    fingerprint: str


def train(bars: pd.DataFrame, config: TrainConfig, feature_set: FeatureSet,
          progress: Progress | None = None, cost_per_bar: pd.Series | None = None,
          ) -> TrainResult:
    """Train, evaluate on the untouched test window, and walk forward if asked.

    ``cost_per_bar``: the round-trip cost of each bar (price units, e.g. its spread); when
    given, each window's cost is the median over its own training rows (never the test's),
    replacing ``config.cost``.
    """
    total = 4 + config.walk_forward
    step = _stepper(progress, total)
    started = time.perf_counter()
    step("features and labels")
    ds = build_dataset(bars, feature_set, config.label)
    outer = splits.chronological_split(ds.n, config.test_fraction, config.label.horizon,
                                       config.embargo_bars)
    cost_rows = (None if cost_per_bar is None
                 else cost_per_bar.reindex(ds.times).to_numpy(np.float64))
    config = replace(config, cost=window_cost(cost_rows, outer.train, config.cost))
    step(f"fit {config.algorithm} on {int(ds.usable[outer.train].sum())} rows")
    model = fit_procedure(ds, outer.train, config)
    step("evaluate on validation and test windows")
    metrics = _final_metrics(ds, outer, model, config)
    metrics["cost"] = {"value": config.cost, "source": (
        "configured" if cost_rows is None else
        f"median spread of the training window ({metrics['ranges']['fit']['start'][:10]}.."
        f"{metrics['ranges']['validation']['end'][:10]}); each walk-forward fold its own")}
    if config.walk_forward:
        metrics["walk_forward"] = run_walk_forward(ds, config, step, cost_rows)
    metrics["selection"] = selection_metrics(metrics, config,
                                             oos_net(model, ds, outer.test, config.cost))
    if config.tune:
        metrics["threshold_search"] = threshold_search(model, ds, config)
    step("done")
    metrics["timing"] = {"fit_seconds": model.fit_seconds,
                         "total_seconds": time.perf_counter() - started}
    return TrainResult(model, config, metrics, bars.index[0], bars.index[-1],
                       bars_fingerprint(bars))


def _stepper(progress: Progress | None, total: int) -> Callable[[str], None]:
    counter = {"i": 0}

    def step(name: str) -> None:
        counter["i"] += 1
        if progress:
            progress(name, min(counter["i"], total), total)

    return step


def _tuning(model: FittedModel) -> dict[str, Any] | None:
    if model.tuning is not None:
        return model.tuning.to_dict()
    return {"error": model.tuning_error} if model.tuning_error else None


def _final_metrics(ds: Dataset, outer: splits.Fold, model: FittedModel,
                   config: TrainConfig) -> dict[str, Any]:
    val_rows = model.val_rows[ds.tradable[model.val_rows]]
    table = gating.threshold_table(model.proba(ds, val_rows), ds.pnl_long[val_rows],
                                   ds.pnl_short[val_rows], config.cost)
    usable = ds.usable
    horizon = config.label.horizon
    return {
        "threshold": model.threshold,
        "test": evaluate_rows(model, ds, outer.test, config.cost, horizon),
        "validation": {**evaluate_rows(model, ds, model.val_rows, config.cost, horizon),
                       "threshold_table": [asdict(r) for r in table]},
        "tuning": _tuning(model),
        "importances": [i.to_dict() for i in model.importances[:20]],
        "feature_selection": {"enabled": config.select_features,
                              "kept": len(model.feature_names), "dropped": model.dropped},
        "class_balance": {"fit": evaluation.class_balance(ds.label[model.fit_rows]),
                          "test": evaluation.class_balance(ds.label[outer.test[
                              usable[outer.test]]])},
        "rows": {"dataset_bars": ds.n, "labelled": int(usable.sum()),
                 "unlabelled_dropped": int((ds.tradable & ~usable).sum()),
                 "fit": len(model.fit_rows), "validation": int(usable[model.val_rows].sum()),
                 "test": int(usable[outer.test].sum()), "features": len(model.feature_names)},
        "ranges": {"fit": _range(ds, model.fit_rows), "validation": _range(ds, model.val_rows),
                   "test": _range(ds, outer.test), "gap_bars": outer.gap},
    }


def selection_metrics(metrics: dict[str, Any], config: TrainConfig,
                      test_net: np.ndarray) -> dict[str, Any]:
    """What the model is judged on, out of sample, and how optimistic its validation figure
    was. Out of sample = the pooled walk-forward test folds (each fold tuned its threshold on
    its own inner window), or the final test window without walk-forward.

    ``optimism`` = validation net expectancy (at the threshold tuned on it) minus the
    out-of-sample one: the part of the validation figure that came from choosing on it.
    """
    validation = metrics["validation"]["trades"]["expectancy"]
    summary = (metrics.get("walk_forward") or {}).get("summary")
    if summary and summary.get("n_trades"):
        oos = {"source": f"pooled walk-forward test folds ({summary['n_trades']} trades)",
               "expectancy": summary["pooled_expectancy"],
               "interval": summary["pooled_intervals"]["expectancy"],
               "lower_bound": summary["pooled_lower_bound"]}
    else:
        trades = metrics["test"]["trades"]
        oos = {"source": f"test window ({trades['n_trades']} trades)",
               "expectancy": trades["expectancy"],
               "interval": trades["intervals"]["expectancy"],
               "lower_bound": stats.lower_bound(test_net, horizon=config.label.horizon,
                                                confidence=config.confidence)}
    oos["confidence"] = config.confidence
    folds = (metrics.get("walk_forward") or {}).get("folds", [])
    gaps = [f["validation_expectancy"] - f["expectancy"] for f in folds
            if f.get("validation_expectancy") is not None and f["expectancy"] is not None]
    return {
        "validation_expectancy": validation, "oos": oos,
        "optimism": (validation - oos["expectancy"]
                     if validation is not None and oos["expectancy"] is not None else None),
        "fold_optimism": float(np.mean(gaps)) if gaps else None,
    }


def threshold_search(model: FittedModel, ds: Dataset, config: TrainConfig) -> dict[str, Any]:
    """Multiple-testing honesty of the threshold grid, on the validation window it was tuned
    on: the Deflated Sharpe of the chosen threshold's per-bar P/L given every threshold tried,
    and PBO (CSCV) over the grid. Vectorised: one column per threshold."""
    rows = model.val_rows[ds.tradable[model.val_rows]]
    p = model.proba(ds, rows)
    pnl_long, pnl_short = ds.pnl_long[rows], ds.pnl_short[rows]
    columns = []
    for threshold in gating.THRESHOLD_GRID:
        decisions = gating.gate(p, threshold)
        gross = np.where(decisions == BUY, pnl_long, pnl_short)
        columns.append(np.where(decisions != 0, gross - config.cost, 0.0))
    matrix = np.column_stack(columns)
    chosen = gating.THRESHOLD_GRID.index(round(model.threshold, 2)) \
        if round(model.threshold, 2) in gating.THRESHOLD_GRID else 0
    dsr = stats.deflated_sharpe(matrix[:, chosen], trials=matrix.shape[1],
                                trial_sharpes=stats.sharpe(matrix.T),
                                confidence=config.confidence)
    return {"trials": matrix.shape[1], "deflated_sharpe": dsr.to_dict(),
            "pbo": stats.pbo_cscv(matrix)}


def retune(estimator: Any, feature_names: list[str], bars: pd.DataFrame, config: TrainConfig,
           feature_set: FeatureSet, cost: float, min_trades: int,
           ) -> tuple[gating.ThresholdChoice, dict[str, Any], dict[str, Any]]:
    """Re-pick the threshold of a trained model on its own validation window.

    Returns (choice, validation metrics, test metrics at the new threshold). The test window is
    only evaluated after the choice, with the chosen threshold.
    """
    ds = build_dataset(bars, feature_set, config.label)
    outer = splits.chronological_split(ds.n, config.test_fraction, config.label.horizon,
                                       config.embargo_bars)
    inner = splits.holdout_split(outer.train, config.validation_fraction, config.label.horizon,
                                 config.embargo_bars)
    columns = np.array([ds.feature_names.index(f) for f in feature_names])
    model = FittedModel(estimator, feature_names, columns, config.threshold, inner.train,
                        inner.test)
    rows = inner.test[ds.tradable[inner.test]]
    choice = gating.choose_threshold(model.proba(ds, rows), ds.pnl_long[rows],
                                     ds.pnl_short[rows], cost, min_trades)
    model.threshold = choice.threshold
    horizon = config.label.horizon
    return (choice, evaluate_rows(model, ds, inner.test, cost, horizon),
            evaluate_rows(model, ds, outer.test, cost, horizon))


def predict_frame(estimator: Any, feature_names: list[str], features: pd.DataFrame,
                  threshold: float, feature_set: FeatureSet) -> pd.DataFrame:
    """``proba_up``, ``proba_down`` and ``decision`` per row; unusable rows: NaN and HOLD."""
    valid = feature_set.valid_rows(features).to_numpy()
    p_up = np.full(len(features), np.nan)
    if valid.any():
        p_up[valid] = proba_up(estimator, features.loc[valid, feature_names].to_numpy(np.float64))
    decision = gating.gate(np.where(valid, p_up, 0.5), threshold)
    return pd.DataFrame({"proba_up": p_up, "proba_down": 1.0 - p_up, "decision": decision},
                        index=features.index)

