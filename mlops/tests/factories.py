"""Small synthetic bar frames and a tiny causal feature set for the ML pipeline's tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.pipeline import FeatureSet


def make_bars(n: int = 3000, seed: int = 0, signal: float = 0.0, sigma: float = 1.0,
              start: str = "2020-01-01", freq: str = "1h", price: float = 1800.0) -> pd.DataFrame:
    """OHLCV bars; each bar opens at the previous close.

    ``signal`` plants a causal edge: the next bar's body drifts by ``signal * sigma`` in the
    direction of the current bar's body. ``signal=0`` is a pure random walk (no edge at all).
    """
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, sigma, n)
    body = np.empty(n)
    body[0] = noise[0]
    for t in range(1, n):
        body[t] = signal * sigma * np.sign(body[t - 1]) + noise[t]
    close = price + np.cumsum(body)
    open_ = close - body
    wick_up = np.abs(rng.normal(0.0, 0.3 * sigma, n))
    wick_down = np.abs(rng.normal(0.0, 0.3 * sigma, n))
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="time")
    return pd.DataFrame({
        "open": open_,
        "high": np.maximum(open_, close) + wick_up,
        "low": np.minimum(open_, close) - wick_down,
        "close": close,
        "volume": rng.integers(100, 1000, n).astype(np.float64),
    }, index=index)


def tiny_features(bars: pd.DataFrame) -> pd.DataFrame:
    """Five causal features (bar t uses bars <= t only); NaN during a 20-bar warm-up."""
    close, open_ = bars["close"], bars["open"]
    body = close - open_
    vol = body.rolling(20).std()
    return pd.DataFrame({
        "body": body / vol,
        "body_prev": body.shift(1) / vol,
        "range": (bars["high"] - bars["low"]) / vol,
        "mom_5": (close - close.shift(5)) / vol,
        "zscore_20": (close - close.rolling(20).mean()) / vol,
    }, index=bars.index)


def leaky_features(bars: pd.DataFrame) -> pd.DataFrame:
    """tiny_features plus one deliberately leaky column that reads the NEXT bar's body."""
    out = tiny_features(bars)
    out["next_body_LEAK"] = (bars["close"] - bars["open"]).shift(-1)
    return out


TINY = FeatureSet("tiny-test-v1", tiny_features, lookback_bars=100)
LEAKY = FeatureSet("leaky-test-v1", leaky_features, lookback_bars=100)


def lookahead_checked(model):
    """``model`` after a small clean look-ahead check on its current fingerprint: what
    activation requires."""
    from mlops import services

    report = services.model_check_lookahead(model, points=3, window=20, per_kind=1)
    assert report.clean, report.render()
    model.refresh_from_db()
    return model
