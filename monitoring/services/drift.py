"""Drift of a model's live inputs and outputs (``monitoring.drift`` does the arithmetic).

- Features: the stored live ``FeatureSnapshot`` rows of the last ``DRIFT_WINDOW_DAYS`` days
  against the features of the model's TRAINING window (``data_start``..``data_end``,
  recomputed from the stored bars with the model's feature set).
- Predictions: the live ``Prediction.proba_up`` of the same days against the model's
  ``proba_up`` on its held-out TEST window (``metrics["ranges"]["test"]``), recomputed with
  the verified artifact.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings

from mlops.models import FeatureSnapshot, MLModel, Prediction
from monitoring import drift


def _limit() -> float:
    return float(getattr(settings, "DRIFT_PSI_LIMIT", drift.DEFAULT_LIMIT))


def _window_days() -> int:
    return int(getattr(settings, "DRIFT_WINDOW_DAYS", 30))


def live_features(model: MLModel, start: datetime, end: datetime) -> pd.DataFrame:
    values = FeatureSnapshot.objects.filter(
        instrument_id=model.instrument_id, timeframe=model.timeframe,
        feature_set_id=model.feature_set_id, valid=True, bar_time__gte=start,
        bar_time__lt=end).values_list("values", flat=True)
    return pd.DataFrame([{k: (np.nan if v is None else v) for k, v in row.items()}
                         for row in values], dtype=np.float64)


def window_features(model: MLModel, start: Any, end: Any) -> pd.DataFrame:
    """The model's features on the stored bars ``start..end``, with the lookback before
    ``start`` so the first rows are defined; only valid rows in the window are kept."""
    from marketdata import timeframes
    from mlops.pipeline import feature_set_for_id
    from mlops.services.training import series_bars

    feature_set = feature_set_for_id(model.feature_set_id)
    start = pd.Timestamp(start)
    # Twice the lookback in clock time, plus a weekend: bars skip the market's closed hours.
    warmup = (timeframes.get(model.timeframe).delta * 2 * (feature_set.lookback_bars or 0)
              + pd.Timedelta(days=3))
    bars = series_bars(model.instrument.symbol, model.timeframe, start - warmup, end)
    features = feature_set.compute(bars)
    features = features[feature_set.valid_rows(features).to_numpy()]
    return features[features.index >= start]


def held_out_proba(model: MLModel) -> np.ndarray:
    from mlops.pipeline import feature_set_for_id, predict_frame
    from mlops.services.registry import model_estimator

    test = (model.metrics or {}).get("ranges", {}).get("test") or {}
    if not test.get("start"):
        return np.array([])
    feature_set = feature_set_for_id(model.feature_set_id)
    features = window_features(model, test["start"], test["end"])
    frame = predict_frame(model_estimator(model, feature_set), model.feature_names, features,
                          model.threshold, feature_set)
    return frame["proba_up"].to_numpy(np.float64)


def drift_compute(model: MLModel, end: datetime) -> dict[str, Any]:
    """Feature and prediction drift of ``model`` over the days before ``end``."""
    start = end - timedelta(days=_window_days())
    live = live_features(model, start, end)
    reference = window_features(model, model.data_start, model.data_end)
    features = drift.feature_drift(reference, live, list(model.feature_names), _limit())
    live_proba = np.array(Prediction.objects.filter(
        model=model, bar_time__gte=start, bar_time__lt=end).values_list("proba_up", flat=True),
        dtype=np.float64)
    predictions = drift.prediction_drift(held_out_proba(model), live_proba, _limit())
    return {"window": {"start": start.isoformat(), "end": end.isoformat()},
            "features": features, "predictions": predictions}
