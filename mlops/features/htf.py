"""Higher-timeframe (H4, D1) features joined onto H1 rows from COMPLETED bins only (pure).

The one look-ahead rule of this module, in ``visible_bins``: the HTF bin [T, E) may be used by
the H1 row opened at t only when t + 1h >= E, i.e. when the H1 bar's close is at or after the
bin's close. Bins follow the trading day (``marketdata.calendar.session_bins``): by default a D1
bin is the forex day, 17:00 to 17:00 New York (DST-aware), as brokers' daily candles are, and
H4 bins count from its start (17, 21, 01, ... New York); with ``day_boundary="utc"`` they are
UTC-aligned (D1 at midnight UTC, H4 at 00, 04, ... UTC). A bin's completion time E is its
scheduled end even when its last hours have no bar (Friday close, holidays): such a bin becomes
visible at the first bar after E. The partial last bin of a series is therefore never visible,
and neither is any bin whose close is in the future of the row.

HTF indicators are computed on the HTF series (the partial last bin included, which is harmless
because every indicator is causal and that bin is never joined), then each H1 row takes the
values of its last visible bin: an as-of join on completion time, done with ``searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import talib

from marketdata.calendar import bins_in_days, trading_days
from mlops.features import spec as S
from mlops.features.bars import BASE_NS, BarArrays
from mlops.features.kernels import change, rolling_mean, safe_div

H4_NS = 4 * BASE_NS
D1_NS = 24 * BASE_NS


@dataclass(frozen=True, slots=True)
class Grid:
    """Per H1 row: (start, end) of its D1 bin (the trading day) and of its H4 bin, UTC ns."""

    day_start: np.ndarray
    day_end: np.ndarray
    h4_start: np.ndarray
    h4_end: np.ndarray


def grid(b: BarArrays, day_boundary: str = S.DAY_BOUNDARY) -> Grid:
    """The H4 and D1 bins of every row (one time-zone conversion for both)."""
    day_start, day_end = trading_days(b.time_ns, day_boundary)
    h4_start, h4_end = bins_in_days(b.time_ns, day_start, day_end, H4_NS)
    return Grid(day_start, day_end, h4_start, h4_end)


@dataclass(frozen=True, slots=True)
class HtfBars:
    """OHLCV of bins; ``end_ns`` is each bin's completion time (its scheduled end)."""

    end_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def resample(b: BarArrays, bin_start: np.ndarray, bin_end: np.ndarray) -> HtfBars:
    """Aggregate bars into the bins given per row (start, end); empty bins (weekends) are
    absent."""
    starts = np.flatnonzero(np.r_[True, bin_start[1:] != bin_start[:-1]])
    lasts = np.r_[starts[1:], bin_start.size] - 1
    return HtfBars(
        end_ns=bin_end[starts],
        open=b.open[starts],
        high=np.maximum.reduceat(b.high, starts),
        low=np.minimum.reduceat(b.low, starts),
        close=b.close[lasts],
        volume=np.add.reduceat(b.volume, starts),
    )


def visible_bins(time_ns: np.ndarray, end_ns: np.ndarray) -> np.ndarray:
    """For each H1 row, the index of the last bin with ``end <= row close`` (-1: none yet)."""
    return np.searchsorted(end_ns, time_ns + BASE_NS, side="right") - 1


def as_of(values: dict[str, np.ndarray], visible: np.ndarray) -> dict[str, np.ndarray]:
    """Per-bin ``values`` gathered onto rows by ``visible`` (NaN where no bin is visible)."""
    none = visible < 0
    safe = np.where(none, 0, visible)
    out = {}
    for name, per_bin in values.items():
        rows = per_bin[safe]
        rows[none] = np.nan
        out[name] = rows
    return out


def _range_pos(close: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return safe_div(close - low, high - low, fill=0.5)


def h4_features(b: BarArrays, g: Grid) -> dict[str, np.ndarray]:
    """H4 features with TA-Lib's recursive indicators (EMA and Wilder smoothing)."""
    h = resample(b, g.h4_start, g.h4_end)
    atr = talib.ATR(h.high, h.low, h.close, S.H4_ATR)
    plus_di = talib.PLUS_DI(h.high, h.low, h.close, S.H4_ADX)
    minus_di = talib.MINUS_DI(h.high, h.low, h.close, S.H4_ADX)
    ema = talib.EMA(h.close, S.H4_EMA)
    hist = talib.MACD(h.close, *S.H4_MACD)[2]
    log_close = np.log(h.close)
    per_bin = {
        "h4_rsi_14": talib.RSI(h.close, S.H4_RSI),
        "h4_natr_14": 100.0 * atr / h.close,
        "h4_adx_14": talib.ADX(h.high, h.low, h.close, S.H4_ADX),
        "h4_di_balance": safe_div(plus_di - minus_di, plus_di + minus_di),
        "h4_ema_slope_21": safe_div(change(ema, S.H4_SLOPE_LAG), atr),
        "h4_macd_hist_atr": safe_div(hist, atr),
        **{f"h4_ret_{k}": change(log_close, k) for k in S.H4_RETURN_PERIODS},
        "h4_body_atr": safe_div(h.close - h.open, atr),
        "ema": ema, "atr": atr,
        "low": talib.MIN(h.low, S.H4_RANGE_PERIOD), "high": talib.MAX(h.high, S.H4_RANGE_PERIOD),
    }
    rows = as_of(per_bin, visible_bins(b.time_ns, h.end_ns))
    rows["h4_ema_dist_21"] = safe_div(b.close - rows.pop("ema"), rows.pop("atr"))
    rows[f"h4_range_pos_{S.H4_RANGE_PERIOD}"] = _range_pos(
        b.close, rows.pop("low"), rows.pop("high"))
    return rows


def _cutler_rsi(close: np.ndarray, period: int) -> np.ndarray:
    """RSI with simple (not Wilder) averages of gains and losses: finite memory."""
    delta = change(close, 1)
    gain = talib.SMA(np.maximum(delta, 0.0), period)
    loss = talib.SMA(np.maximum(-delta, 0.0), period)
    return safe_div(100.0 * gain, gain + loss, fill=50.0)


def d1_features(b: BarArrays, g: Grid) -> dict[str, np.ndarray]:
    """D1 features, all of finite memory so a bounded live lookback reproduces them exactly."""
    d = resample(b, g.day_start, g.day_end)
    atr = talib.SMA(talib.TRANGE(d.high, d.low, d.close), S.D1_ATR)  # simple, not Wilder
    sma = rolling_mean(d.close, S.D1_SMA)
    log_close = np.log(d.close)
    path = talib.SUM(np.abs(change(d.close, 1)), S.D1_ER)
    per_bin = {
        "d1_rsi_14": _cutler_rsi(d.close, S.D1_RSI),
        "d1_natr_14": 100.0 * atr / d.close,
        "d1_er_10": safe_div(change(d.close, S.D1_ER), path),
        "d1_sma_slope_20": safe_div(change(sma, S.D1_SLOPE_LAG), atr),
        **{f"d1_ret_{k}": change(log_close, k) for k in S.D1_RETURN_PERIODS},
        "d1_body_atr": safe_div(d.close - d.open, atr),
        "sma": sma, "atr": atr, "day_low": d.low, "day_high": d.high,
        "low": talib.MIN(d.low, S.D1_RANGE_PERIOD), "high": talib.MAX(d.high, S.D1_RANGE_PERIOD),
    }
    rows = as_of(per_bin, visible_bins(b.time_ns, d.end_ns))
    rows["d1_sma_dist_20"] = safe_div(b.close - rows.pop("sma"), rows.pop("atr"))
    rows[f"d1_range_pos_{S.D1_RANGE_PERIOD}"] = _range_pos(
        b.close, rows.pop("low"), rows.pop("high"))
    rows["d1_prev_pos"] = _range_pos(b.close, rows.pop("day_low"), rows.pop("day_high"))
    return rows
