"""A registered model's probabilities and decisions over a range of stored bars.

``model_probabilities(model, start, end)`` is what a backtest (and ``backtest --sweep``) feeds
the engine. It is built from the ML pipeline's public pieces, the same ones the live cycle
uses, so a backtest trades exactly what live trading would have traded:

1. the model's feature set must be the one the code computes (else: retrain);
2. the estimator is loaded only after its SHA-256 and skops types verify
   (``mlops.services.model_estimator``);
3. features come from ``FeatureSet.compute`` over the period *plus* ``lookback_bars`` bars of
   history before it (the live cycle's bounded lookback, started at a whole UTC day, so the
   recursive indicators and the D1/H4 bins equal full-history values). Features are causal:
   row t uses bars <= t only, so the warm-up bars (which may fall inside the training window)
   only ever feed inputs, never labels;
4. ``mlops.pipeline.predict_frame`` gives P(up) per bar (NaN where the features are still
   undefined), and :meth:`ModelSignals.decisions` applies the live HOLD gate
   (``mlops.gating.gate``) at a threshold.

Whether the period may be backtested at all (after the training window) is the services'
rule, checked before this runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from marketdata import timeframes
from mlops import gating, pipeline
from mlops.models import MLModel
from mlops.pipeline import FeatureSet
from nusatrade.errors import ConfigurationError, DataError

DEFAULT_LOOKBACK = 3000
NS_PER_DAY = 86_400 * 10**9
# Bars of history before a period that ATR is computed over (the live cycle reads at least as
# many): Wilder's ATR is recursive and forgets its first bar with weight (1 - 1/14)^600 <
# 1e-19, so the SL/TP distances of a backtest equal the live cycle's (replay parity) from the
# period's first bar on, instead of warming up inside the period.
ATR_WARMUP_BARS = 600


@dataclass(frozen=True, eq=False)
class ModelSignals:
    """The bars of a period and the model's P(up) on each (NaN: features undefined)."""

    bars: pd.DataFrame
    proba_up: np.ndarray
    threshold: float
    # The period's bars preceded by their history (features' lookback, ATR warm-up).
    window: pd.DataFrame | None = None

    @property
    def synthetic(self) -> bool:
        return bool(self.bars.attrs.get("synthetic", False))

    @property
    def bars_without_prediction(self) -> int:
        return int(np.isnan(self.proba_up).sum())

    def atr(self, period: int) -> np.ndarray:
        """TA-Lib ATR(``period``) of the period's bars computed over the whole window (its
        history included), one value per period bar."""
        import talib

        window = self.window if self.window is not None else self.bars
        high, low, close = (window[c].to_numpy(np.float64) for c in ("high", "low", "close"))
        values = talib.ATR(high, low, close, timeperiod=period)
        return values[len(window) - len(self.bars):]

    def decisions(self, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(signals, confidence) at ``threshold`` (default: the model's): +1 BUY, -1 SELL,
        0 HOLD from the live HOLD gate; confidence is the chosen side's probability."""
        threshold = self.threshold if threshold is None else float(threshold)
        valid = ~np.isnan(self.proba_up)
        p_up = np.where(valid, self.proba_up, 0.5)
        signals = gating.gate(p_up, threshold).astype(np.int8)
        confidence = np.where(valid, np.maximum(p_up, 1.0 - p_up), np.nan)
        return signals, confidence


def feature_set_for(model: MLModel, feature_set: FeatureSet | None = None) -> FeatureSet:
    """The feature set to run ``model`` with; ConfigurationError when the code changed."""
    feature_set = feature_set or pipeline.feature_set_for_id(model.feature_set_id)
    if feature_set.id != model.feature_set_id:
        raise ConfigurationError(
            f"model #{model.pk} was trained on features {model.feature_set_id} but the code "
            f"now computes {feature_set.id}: retrain it before backtesting")
    return feature_set


def day_start(day: date) -> pd.Timestamp:
    """00:00 UTC of ``day``."""
    return pd.Timestamp(datetime.combine(day, time.min)).tz_localize("UTC")


def day_end(day: date) -> pd.Timestamp:
    """The last instant of ``day`` (UTC): bars opened that day are in the period."""
    return day_start(day + timedelta(days=1)) - pd.Timedelta(microseconds=1)


def model_probabilities(model: MLModel, start: date, end: date, *,
                        feature_set: FeatureSet | None = None) -> ModelSignals:
    """P(up) of ``model`` on each stored bar opened from ``start`` to ``end`` (UTC days,
    inclusive). DataError when no bar is stored in the period."""
    from mlops.services import model_estimator

    feature_set = feature_set_for(model, feature_set)
    symbol, tf = model.instrument.symbol, timeframes.get(model.timeframe)
    lower, upper = day_start(start), day_end(end)
    lookback = max(feature_set.lookback_bars or DEFAULT_LOOKBACK, ATR_WARMUP_BARS)
    window = _bars_with_history(symbol, tf, lower, upper, lookback)
    in_period = window.index >= lower
    if not in_period.any():
        raise DataError(f"no {symbol} {tf.name} bars are stored from {start} to {end}")
    features = feature_set.compute(window).loc[in_period]
    frame = pipeline.predict_frame(model_estimator(model), model.feature_names, features,
                                   model.threshold, feature_set)
    bars = window.loc[in_period]
    bars.attrs["synthetic"] = window.attrs.get("synthetic", False)
    return ModelSignals(bars=bars, proba_up=frame["proba_up"].to_numpy(np.float64),
                        threshold=float(model.threshold), window=window)


def _bars_with_history(symbol: str, tf: timeframes.Timeframe, lower: pd.Timestamp,
                       upper: pd.Timestamp, lookback: int) -> pd.DataFrame:
    """The bars of [lower, upper] preceded by up to ``lookback`` stored bars, starting at a
    whole UTC day (a D1/H4 bin cut at its start would differ from the full-history one)."""
    from marketdata.selectors import load_bars

    # Bars exist 5 days in 7 (plus holidays): read a calendar span with room to spare.
    span = tf.delta * int(lookback * 1.5) + pd.Timedelta(days=14)
    bars = load_bars(symbol, tf.name, lower - span, upper)
    synthetic = bars.attrs.get("synthetic", False)
    before = int(np.searchsorted(bars.index.as_unit("ns").asi8, lower.value))
    first = max(before - lookback, 0)
    if first > 0:
        first = _first_whole_day(bars.index, first)
    window = bars.iloc[first:]
    window.attrs["synthetic"] = synthetic
    return window


def _first_whole_day(index: pd.DatetimeIndex, position: int) -> int:
    """``position``, or the first later row that opens a UTC day when ``position`` is inside
    one (never past the rows that exist)."""
    times = index.as_unit("ns").asi8
    if times[position] % NS_PER_DAY == 0:
        return position
    next_day = (times[position] // NS_PER_DAY + 1) * NS_PER_DAY
    return int(np.searchsorted(times, next_day))
