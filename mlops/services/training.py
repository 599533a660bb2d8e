"""Training, threshold tuning and the look-ahead check of registered models."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction

from mlops import pipeline
from mlops.gating import ThresholdChoice
from mlops.models import AuditAction, MLModel
from mlops.pipeline import FeatureSet, TrainConfig
from mlops.services.registry import (
    ActivationRefused,
    activation_confidence,
    audit,
    model_activate,
    model_estimator,
    model_metrics_update,
    model_register,
    require_oos_edge,
)
from nusatrade.errors import ConfigurationError, DataError
from trading.models import Instrument

MIN_BARS = 500


def series_bars(symbol: str, timeframe: str, start: Any = None, end: Any = None,
                ) -> pd.DataFrame:
    """Stored bars (marketdata's ``load_bars``; imported late so this module loads alone)."""
    from marketdata.selectors import load_bars

    return load_bars(symbol, timeframe, start, end)


def instrument_for(symbol: str) -> Instrument:
    try:
        return Instrument.objects.get(symbol=symbol.upper())
    except Instrument.DoesNotExist:
        raise DataError(f"unknown symbol {symbol!r}") from None


def default_cost(instrument: Instrument, bars: pd.DataFrame) -> float:
    """Round-trip cost in price units: the median stored spread (points x point size) of
    ``bars`` (training passes per-bar costs instead: :func:`spread_cost_per_bar`)."""
    return float(np.nanmedian(spread_cost_per_bar(instrument, bars).to_numpy(np.float64)))


def spread_cost_per_bar(instrument: Instrument, bars: pd.DataFrame) -> pd.Series:
    """Each bar's spread in price units: training takes the median over each window's
    TRAINING bars only (the test window's spreads are not known when choosing)."""
    spread = bars["spread"] if "spread" in bars else pd.Series(dtype=float)
    if not spread.notna().any():
        raise ConfigurationError(f"{instrument.symbol} bars carry no spread: give the cost "
                                 "explicitly (--cost, price units per round trip)")
    return spread.astype(np.float64) * float(instrument.point)


def model_train(*, symbol: str, timeframe: str, config: TrainConfig, cost: float | None = None,
                start: Any = None, end: Any = None, user: Any = None, activate: bool = False,
                reason: str = "", progress: pipeline.Progress | None = None,
                feature_set: FeatureSet | None = None, name: str | None = None) -> MLModel:
    """Train on the stored bars, register the candidate, and activate it if asked."""
    instrument = instrument_for(symbol)
    bars = series_bars(instrument.symbol, timeframe, start, end)
    if len(bars) < MIN_BARS:
        raise DataError(f"{instrument.symbol} {timeframe}: {len(bars)} bars stored, "
                        f"training needs at least {MIN_BARS}")
    cost_per_bar = spread_cost_per_bar(instrument, bars) if cost is None else None
    config = replace(config, cost=0.0 if cost is None else cost,
                     confidence=max(config.confidence, activation_confidence()))
    feature_set = feature_set or pipeline.default_feature_set()
    result = pipeline.train(bars, config, feature_set, progress, cost_per_bar=cost_per_bar)
    model = model_register(instrument=instrument, timeframe=timeframe.upper(), result=result,
                           feature_set=feature_set, user=user, name=name,
                           synthetic=bool(bars.attrs.get("synthetic", False)))
    if activate:  # activation needs a clean look-ahead check on the model's fingerprint
        from mlops.services.lookahead import model_check_lookahead

        model_check_lookahead(model, user=user, feature_set=feature_set)
        model = model_activate_automatically(
            model, user, reason or "activated at training (--activate)", feature_set)
    return model


def model_activate_automatically(model: MLModel, user: Any, reason: str,
                                 feature_set: FeatureSet | None = None) -> MLModel:
    """Activate unless a rule refuses an automatic activation; a refusal is recorded on the
    model (``metrics["activation"]``) and the model stays a candidate."""
    try:
        require_oos_edge(model)
    except ActivationRefused as exc:
        return model_metrics_update(model, activation={"automatic": True, "refused": str(exc)})
    return model_activate(model, user, reason, feature_set, automatic=True)


def _model_inputs(model: MLModel, feature_set: FeatureSet | None,
                  ) -> tuple[pd.DataFrame, FeatureSet, TrainConfig, list[str]]:
    """The model's own bars, feature set and config; refuses when either changed."""
    feature_set = feature_set or pipeline.feature_set_for_id(model.feature_set_id)
    if feature_set.id != model.feature_set_id:
        raise ConfigurationError(
            f"model #{model.pk} was trained on features {model.feature_set_id} but the code now "
            f"computes {feature_set.id}: retrain it")
    bars = series_bars(model.instrument.symbol, model.timeframe, model.data_start, model.data_end)
    notes = []
    if pipeline.bars_fingerprint(bars) != model.data_fingerprint:
        notes.append("NOTE: the stored bars of this period changed since training.")
    return bars, feature_set, TrainConfig.from_dict(model.params["config"]), notes


@dataclass(frozen=True)
class TuneOutcome:
    model: MLModel
    previous_threshold: float
    choice: ThresholdChoice
    validation: dict[str, Any]
    test: dict[str, Any]


def model_tune_threshold(model: MLModel, *, cost: float | None = None,
                         min_trades: int | None = None, user: Any = None,
                         feature_set: FeatureSet | None = None) -> TuneOutcome:
    """Pick the threshold on the model's validation window and store it (test never used)."""
    bars, feature_set, config, notes = _model_inputs(model, feature_set)
    if notes:
        raise DataError(f"model #{model.pk}: {notes[0]} Its validation window cannot be "
                        "reproduced: retrain instead")
    cost = config.cost if cost is None else cost
    min_trades = config.min_trades if min_trades is None else min_trades
    try:
        choice, validation, test = pipeline.retune(model_estimator(model, feature_set),
                                                   model.feature_names,
                                                   bars, config, feature_set, cost, min_trades)
    except ValueError as exc:
        raise DataError(f"model #{model.pk}: {exc}") from None
    previous = model.threshold
    with transaction.atomic():
        model.threshold = choice.threshold
        model.save(update_fields=["threshold"])
        model_metrics_update(model, threshold=choice.threshold, tuning=choice.to_dict(),
                             test=test, validation={**model.metrics.get("validation", {}),
                                                    **validation})
    audit(model, AuditAction.THRESHOLD_TUNED, user,
          details={"previous": previous, "threshold": choice.threshold, "cost": cost,
                   "min_trades": min_trades, "profitable": choice.profitable})
    return TuneOutcome(model, previous, choice, validation, test)
