"""The live side: features of the latest closed bar, and the active model's decision on it.

Both read a bounded lookback of bars (the feature set's ``lookback_bars``), use closed bars
only (a bar opened at t is closed at t + its timeframe), and are idempotent: a rerun for a bar
already processed returns the stored row.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from django.utils import timezone

from marketdata import timeframes
from mlops import pipeline
from mlops.labels import LabelSpec, make_labels
from mlops.models import FeatureSnapshot, MLModel, Prediction
from mlops.pipeline import FeatureSet
from mlops.selectors import model_active
from mlops.services.registry import model_estimator
from mlops.services.training import instrument_for, series_bars
from nusatrade.errors import ConfigurationError, DataError

logger = logging.getLogger("nusatrade.mlops")
DEFAULT_LOOKBACK = 3000


def _closed_bars(symbol: str, timeframe: str, n_bars: int, now: datetime) -> pd.DataFrame:
    """At least the last ``n_bars`` closed bars before ``now`` (when stored)."""
    from marketdata.selectors import bars_range

    tf = timeframes.get(timeframe)
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    last = bars_range(symbol, tf.name)[1]
    if last is None:
        raise DataError(f"{symbol} {tf.name}: no bars stored")
    # Bars only exist 5 days in 7 (plus holidays): read a calendar span with room to spare,
    # ending at the last stored bar (the feed may have stopped before now).
    anchor = min(now_ts, last + tf.delta)
    span = tf.delta * int(n_bars * 1.5) + pd.Timedelta(days=14)
    bars = series_bars(symbol, tf.name, anchor - span, now_ts)
    bars = bars[bars.index + tf.delta <= now_ts]  # the bar still forming is not used
    if bars.empty:
        raise DataError(f"{symbol} {tf.name}: no closed bar before {now_ts:%Y-%m-%d %H:%M}")
    return bars.iloc[-n_bars:]


def _lookback(feature_set: FeatureSet) -> int:
    return feature_set.lookback_bars or DEFAULT_LOOKBACK


def _json_value(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def closed_bars_load(symbol: str, timeframe: str, n_bars: int,
                     now: datetime | None = None) -> pd.DataFrame:
    """At least the last ``n_bars`` stored bars already closed at ``now`` (the live path's
    bounded read; DataError when none is stored)."""
    return _closed_bars(symbol.upper(), timeframes.get(timeframe).name, n_bars,
                        now or timezone.now())


def features_snapshot_compute(symbol: str, timeframe: str, now: datetime | None = None,
                              feature_set: FeatureSet | None = None, *,
                              bars: pd.DataFrame | None = None) -> FeatureSnapshot:
    """The features of the latest closed bar, stored once per (series, feature set, bar).

    ``bars``: the closed bars to decide on, already read by the caller (the cycle reads them
    once for its freshness check, ATR and features); the last row is the bar decided on.
    """
    instrument = instrument_for(symbol)
    feature_set = feature_set or pipeline.default_feature_set()
    tf = timeframes.get(timeframe).name
    if bars is None:
        bars = _closed_bars(instrument.symbol, tf, _lookback(feature_set), now or timezone.now())
    elif bars.empty:
        raise DataError(f"{symbol} {tf}: no closed bar given")
    bar_time = bars.index[-1].to_pydatetime()
    key = {"instrument": instrument, "timeframe": tf, "feature_set_id": feature_set.id,
           "bar_time": bar_time}
    existing = FeatureSnapshot.objects.filter(**key).first()
    if existing is not None:
        return existing
    row = feature_set.latest_rows(bars, 1)
    valid = bool(feature_set.valid_rows(row).iloc[-1])
    values = {str(k): _json_value(v) for k, v in row.iloc[-1].items()}
    snapshot, _ = FeatureSnapshot.objects.get_or_create(
        **key, defaults={"values": values, "valid": valid})
    return snapshot


def _snapshot_frame(snapshot: FeatureSnapshot) -> pd.DataFrame:
    values = {k: (np.nan if v is None else v) for k, v in snapshot.values.items()}
    index = pd.DatetimeIndex([pd.Timestamp(snapshot.bar_time)], name="time")
    return pd.DataFrame([values], index=index, dtype=np.float64)


def _validate_feature_set(model: MLModel, feature_set: FeatureSet) -> None:
    if feature_set.id != model.feature_set_id:
        raise ConfigurationError(
            f"active model #{model.pk} of {model.instrument.symbol} {model.timeframe} was "
            f"trained on features {model.feature_set_id}; the code computes {feature_set.id}. "
            "Retrain and activate a new model.")


def prediction_make(symbol: str, timeframe: str, now: datetime | None = None,
                    feature_set: FeatureSet | None = None, *,
                    bars: pd.DataFrame | None = None) -> Prediction | None:
    """The active model's decision on the latest closed bar (None without an active model).
    ``bars``: as :func:`features_snapshot_compute`."""
    model = model_active(symbol, timeframe)
    if model is None:
        logger.info("predict %s %s: no active model, nothing to do", symbol, timeframe)
        return None
    feature_set = feature_set or pipeline.feature_set_for_id(model.feature_set_id)
    _validate_feature_set(model, feature_set)
    estimator = model_estimator(model, feature_set)  # refuses a fingerprint mismatch
    snapshot = features_snapshot_compute(symbol, timeframe, now, feature_set, bars=bars)
    existing = Prediction.objects.filter(model=model, bar_time=snapshot.bar_time).first()
    if existing is not None:
        return existing
    if not snapshot.valid:
        raise DataError(f"{symbol} {timeframe} {snapshot.bar_time:%Y-%m-%d %H:%M}: features "
                        "undefined (not enough history before this bar)")
    frame = pipeline.predict_frame(estimator, model.feature_names,
                                   _snapshot_frame(snapshot), model.threshold, feature_set)
    row = frame.iloc[0]
    prediction, _ = Prediction.objects.get_or_create(
        model=model, bar_time=snapshot.bar_time,
        defaults={"proba_up": float(row["proba_up"]), "proba_down": float(row["proba_down"]),
                  "decision": int(row["decision"]), "threshold": model.threshold})
    return prediction


def model_predict_latest(model: MLModel, last: int = 10, now: datetime | None = None,
                         feature_set: FeatureSet | None = None, *,
                         bars: pd.DataFrame | None = None) -> pd.DataFrame:
    """The model's probabilities and decisions on the last ``last`` closed bars (not stored).

    Columns: close, proba_up, proba_down, decision, actual (the label once known, else NaN).
    ``bars``: the closed bars, already read by the caller (as :func:`prediction_make`).
    """
    feature_set = feature_set or pipeline.feature_set_for_id(model.feature_set_id)
    _validate_feature_set(model, feature_set)
    estimator = model_estimator(model, feature_set)  # refuses a fingerprint mismatch
    if bars is None:
        bars = _closed_bars(model.instrument.symbol, model.timeframe,
                            _lookback(feature_set) + last, now or timezone.now())
    features = feature_set.latest_rows(bars, min(last, len(bars)))
    frame = pipeline.predict_frame(estimator, model.feature_names, features,
                                   model.threshold, feature_set)
    labels = make_labels(bars, LabelSpec.from_dict(model.label_spec))
    frame.insert(0, "close", bars["close"].reindex(frame.index))
    frame["actual"] = labels["label"].reindex(frame.index)
    return frame


def prediction_summary(prediction: Prediction | None) -> dict[str, Any]:
    if prediction is None:
        return {"status": "no active model"}
    return {"model": prediction.model_id, "bar_time": prediction.bar_time.isoformat(),
            "decision": prediction.get_decision_display(), "proba_up": prediction.proba_up}
