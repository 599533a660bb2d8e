"""The look-ahead check of a registered model, recorded with the fingerprint it ran on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from mlops import lookahead, pipeline
from mlops.models import AuditAction, MLModel
from mlops.pipeline import FeatureSet
from mlops.services.registry import audit, model_estimator, model_metrics_update
from mlops.services.training import _model_inputs
from nusatrade.errors import DataError


def model_check_lookahead(model: MLModel, *, points: int = 50, window: int = 1000,
                          seed: int = 0, lookback: int | None = None,
                          per_kind: int = lookahead.DEFAULT_PER_KIND,
                          progress: lookahead.Progress | None = None, user: Any = None,
                          feature_set: FeatureSet | None = None) -> lookahead.LookaheadReport:
    """Re-run features, prediction and the HOLD gate on history cut at the selected bars
    (``lookahead.select_bars``: every traded bar of the window, each kind of boundary, random
    bars). The estimator is loaded through the identity check, so the recorded result belongs
    to the model's current fingerprint, which is stored with it (activation requires both)."""
    bars, feature_set, _config, notes = _model_inputs(model, feature_set)
    estimator = model_estimator(model, feature_set)

    def decide(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        frame = pipeline.predict_frame(estimator, model.feature_names, features,
                                       model.threshold, feature_set)
        return frame["proba_up"].to_numpy(), frame["decision"].to_numpy()

    full = feature_set.compute(bars)
    valid = np.flatnonzero(feature_set.valid_rows(full).to_numpy())
    if len(valid) == 0:
        raise DataError(f"model #{model.pk}: no bar of its data has valid features")
    selection = lookahead.select_bars(
        decide(full)[1], int(valid[0]), points, window, np.random.default_rng(seed), bars.index,
        per_kind=per_kind, day_boundary=feature_set.options.get("day_boundary", "ny17"))
    title = (f"Look-ahead check of model #{model.pk} ({model.instrument.symbol} "
             f"{model.timeframe}, {model.algorithm}, threshold {model.threshold:.2f})")
    report = lookahead.check_lookahead(
        bars, feature_set.compute, selection.positions, decide, n_random=selection.n_random,
        n_trade_bars=selection.n_trades, full_features=full, lookback=lookback,
        progress=progress, title=title, coverage=selection.coverage)
    report = replace(report, notes=tuple(notes), fingerprint=model.fingerprint)
    model_metrics_update(model, lookahead=report.to_dict())
    audit(model, AuditAction.LOOKAHEAD_CHECKED, user, details=report.to_dict())
    return report
