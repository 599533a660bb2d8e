"""Model metrics and permutation importance (pure: no Django imports).

Classification metrics (accuracy, precision, recall, F1, ROC AUC, log loss, Brier) use the rows
that have a label (+1/-1) and the ungated prediction (the more probable side). Gated metrics
use the HOLD gate at the model's threshold: ``coverage`` is the share of rows the model trades
on (all rows with a known outcome), ``gated_accuracy`` the share of labelled traded rows on the
right side, and the trade statistics cost every traded row, labelled or not.

Every figure comes with its baseline or its uncertainty (``mlops.stats``): ``baseline`` holds
what a constant predictor scores (majority-class accuracy, AUC 0.5, the base rate's log loss
and Brier score), ``gated_accuracy_ci`` the Wilson interval of the accuracy when trading, and
``trades.intervals`` block-bootstrap intervals of win rate, profit factor, expectancy and
per-trade Sharpe (blocks at least the label horizon long: overlapping labels share bars).
``effective_n`` is the labelled rows' effective sample size under that overlap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from mlops import stats
from mlops.gating import gate, trade_pnl, trade_stats
from mlops.labels import BUY, HOLD, SELL


def class_balance(y: np.ndarray) -> dict[str, float | int]:
    """Counts of up (+1) and down (-1) labels and the share of up."""
    y = np.asarray(y)
    up, down = int((y == BUY).sum()), int((y == SELL).sum())
    total = up + down
    return {"up": up, "down": down, "share_up": up / total if total else 0.0}


def classification_metrics(y: np.ndarray, proba_up: np.ndarray) -> dict[str, Any]:
    """Threshold-free metrics of labelled rows (y in {-1, +1})."""
    y = np.asarray(y, dtype=np.int64)
    p = np.clip(np.asarray(proba_up, dtype=np.float64), 0.0, 1.0)
    pred = np.where(p > 0.5, BUY, SELL)
    both = len(np.unique(y)) == 2
    return {
        "n": len(y),
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, average="macro", zero_division=0)),
        "recall": float(recall_score(y, pred, average="macro", zero_division=0)),
        "f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "log_loss": float(log_loss(y, np.column_stack([1 - p, p]), labels=[SELL, BUY])),
        "brier": float(brier_score_loss(y == BUY, p)),
    }


def gated_metrics(y: np.ndarray, proba_up: np.ndarray, threshold: float) -> dict[str, Any]:
    """Metrics of the gated decisions on labelled rows, with the 2x3 confusion matrix.

    ``recall_gated`` is the seed's recall: of the bars that went up (down), the share the model
    called BUY (SELL), HOLD counting as a miss.
    """
    y = np.asarray(y, dtype=np.int64)
    decisions = gate(proba_up, threshold)
    traded = decisions != HOLD
    hits = decisions == y
    matrix = [[int(((y == true) & (decisions == pred)).sum()) for pred in (SELL, HOLD, BUY)]
              for true in (SELL, BUY)]
    recalls = [float(((y == side) & hits).sum() / max(1, (y == side).sum()))
               for side in (SELL, BUY)]
    n_traded, n_hits = int(traded.sum()), int(hits[traded].sum())
    return {
        "gated_accuracy": float(hits[traded].mean()) if traded.any() else None,
        "gated_accuracy_ci": stats.wilson_interval(n_hits, n_traded),
        "gated_hits": n_hits, "gated_n": n_traded,
        "recall_gated": float(np.mean(recalls)),
        "confusion_matrix": {"rows_true": ["SELL", "BUY"], "cols_pred": ["SELL", "HOLD", "BUY"],
                             "counts": matrix},
    }


def evaluate(y: np.ndarray, proba_up: np.ndarray, pnl_long: np.ndarray, pnl_short: np.ndarray,
             threshold: float, cost: float, horizon: int = 1) -> dict[str, Any]:
    """All metrics of one evaluation window, with baselines and intervals.

    ``y`` has NaN for rows without a direction; ``pnl_*`` are known on every row given (rows
    are consecutive bars, in time order); ``horizon`` is the label's length in bars.
    """
    y = np.asarray(y, dtype=np.float64)
    labelled = ~np.isnan(y)
    y_lab, p_lab = y[labelled].astype(np.int64), np.asarray(proba_up)[labelled]
    decisions = gate(proba_up, threshold)
    summary = trade_stats(decisions, pnl_long, pnl_short, cost)
    net = trade_pnl(decisions, pnl_long, pnl_short, cost)
    return {
        **classification_metrics(y_lab, p_lab),
        **gated_metrics(y_lab, p_lab, threshold),
        "baseline": stats.constant_baselines(y_lab),
        "effective_n": stats.effective_sample_size(np.flatnonzero(labelled), horizon),
        "horizon": int(horizon),
        "threshold": threshold,
        "coverage": summary.coverage,
        "n_rows": len(y),
        "trades": {**summary.to_dict(),
                   "effective_n": stats.effective_sample_size(np.flatnonzero(decisions != HOLD),
                                                              horizon),
                   "intervals": stats.trade_intervals(net, horizon=horizon)},
        "class_balance": class_balance(y_lab),
    }


@dataclass(frozen=True)
class FeatureImportance:
    feature: str
    mean: float
    std: float

    @property
    def above_noise(self) -> bool:
        """Importance distinguishable from zero: mean above two standard deviations."""
        return self.mean > 0 and self.mean > 2 * self.std

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "above_noise": self.above_noise}


def permutation_importances(estimator: Any, X: np.ndarray, y: np.ndarray,
                            feature_names: list[str], n_repeats: int = 5, seed: int = 42,
                            n_jobs: int | None = None,
                            max_rows: int | None = 5000) -> list[FeatureImportance]:
    """Drop in log loss when each feature is shuffled, sorted by importance (highest first).

    The rows are the most recent ``max_rows`` of the window (not a random sample), so the
    window stays chronological; the shuffling is only of one column's values at a time.
    """
    if max_rows is not None and len(y) > max_rows:
        X, y = X[-max_rows:], y[-max_rows:]
    result = permutation_importance(estimator, X, y, scoring="neg_log_loss",
                                    n_repeats=n_repeats, random_state=seed, n_jobs=n_jobs)
    items = [FeatureImportance(name, float(m), float(s)) for name, m, s
             in zip(feature_names, result.importances_mean, result.importances_std, strict=True)]
    return sorted(items, key=lambda i: i.mean, reverse=True)


def select_features(importances: list[FeatureImportance]) -> tuple[list[str], list[str]]:
    """(kept, dropped) feature names: kept are those above noise; never drop them all."""
    kept = [i.feature for i in importances if i.above_noise]
    if not kept:
        kept = [importances[0].feature]
    dropped = [i.feature for i in importances if i.feature not in kept]
    return kept, dropped
