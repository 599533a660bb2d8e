"""Base-timeframe (H1) technical features: TA-Lib plus numpy, all scale-free (pure, hot path).

Each family returns ``{column: float64 array}`` aligned with the bars. Row t reads bars <= t.
Prices enter only as ratios: to the close, to ATR (distances "in ATR"), or as log returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import talib

from mlops.features import spec as S
from mlops.features.bars import BarArrays
from mlops.features.kernels import (
    change,
    linreg_slope,
    rolling_mean,
    rolling_std,
    safe_div,
    shift,
    sqrt0,
)

Columns = dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class Core:
    """Intermediates shared by several families (computed once)."""

    atr: np.ndarray  # ATR(ATR_PERIOD), Wilder
    log_close: np.ndarray
    ret1: np.ndarray  # 1-bar log return
    adx: np.ndarray
    plus_di: np.ndarray
    minus_di: np.ndarray


def core(b: BarArrays) -> Core:
    log_close = np.log(b.close)
    return Core(
        atr=talib.ATR(b.high, b.low, b.close, S.ATR_PERIOD),
        log_close=log_close,
        ret1=change(log_close, 1),
        adx=talib.ADX(b.high, b.low, b.close, S.ADX_PERIOD),
        plus_di=talib.PLUS_DI(b.high, b.low, b.close, S.ADX_PERIOD),
        minus_di=talib.MINUS_DI(b.high, b.low, b.close, S.ADX_PERIOD),
    )


def momentum(b: BarArrays, c: Core) -> Columns:
    out: Columns = {f"rsi_{p}": talib.RSI(b.close, p) for p in S.RSI_PERIODS}
    macd, signal, hist = talib.MACD(b.close, S.MACD_FAST, S.MACD_SLOW, S.MACD_SIGNAL)
    out["macd_atr"] = safe_div(macd, c.atr)
    out["macd_signal_atr"] = safe_div(signal, c.atr)
    out["macd_hist_atr"] = safe_div(hist, c.atr)
    out["stoch_k"], out["stoch_d"] = talib.STOCH(
        b.high, b.low, b.close, fastk_period=S.STOCH_K, slowk_period=S.STOCH_SMOOTH,
        slowk_matype=0, slowd_period=S.STOCH_D, slowd_matype=0)
    out[f"willr_{S.WILLR_PERIOD}"] = talib.WILLR(b.high, b.low, b.close, S.WILLR_PERIOD)
    for p in S.ROC_PERIODS:
        out[f"roc_{p}"] = talib.ROC(b.close, p)
    out[f"cci_{S.CCI_PERIOD}"] = talib.CCI(b.high, b.low, b.close, S.CCI_PERIOD)
    out[f"mfi_{S.MFI_PERIOD}"] = talib.MFI(b.high, b.low, b.close, b.volume, S.MFI_PERIOD)
    out["ultosc"] = talib.ULTOSC(b.high, b.low, b.close, *S.ULTOSC_PERIODS)
    out[f"aroonosc_{S.AROON_PERIOD}"] = talib.AROONOSC(b.high, b.low, S.AROON_PERIOD)
    return out


def trend(b: BarArrays, c: Core) -> Columns:
    p = S.ADX_PERIOD
    out: Columns = {
        f"adx_{p}": c.adx, f"plus_di_{p}": c.plus_di, f"minus_di_{p}": c.minus_di,
        "di_balance": safe_div(c.plus_di - c.minus_di, c.plus_di + c.minus_di),
        f"adx_slope_{S.ADX_SLOPE_LAG}": change(c.adx, S.ADX_SLOPE_LAG),
    }
    ema = {n: talib.EMA(b.close, n) for n in (*S.EMA_PERIODS, *S.EMA_SLOPE_PERIODS)}
    sma = {n: rolling_mean(b.close, n) for n in S.SMA_PERIODS}
    for n in S.EMA_PERIODS:
        out[f"ema_dist_{n}"] = safe_div(b.close - ema[n], c.atr)
    for n in S.SMA_PERIODS:
        out[f"sma_dist_{n}"] = safe_div(b.close - sma[n], c.atr)
    for n in S.EMA_SLOPE_PERIODS:
        out[f"ema_slope_{n}"] = safe_div(change(ema[n], S.SLOPE_LAG), c.atr)
    fast, slow = S.EMA_CROSS
    out[f"ema_cross_{fast}_{slow}"] = safe_div(ema[fast] - ema[slow], c.atr)
    fast, slow = S.SMA_CROSS
    out[f"sma_cross_{fast}_{slow}"] = safe_div(sma[fast] - sma[slow], c.atr)
    slope = linreg_slope(b.close, S.LINREG_PERIOD)  # = TA-Lib LINEARREG_SLOPE, no running sums
    out[f"linreg_slope_{S.LINREG_PERIOD}"] = safe_div(slope, c.atr)
    return out


def volatility(b: BarArrays, c: Core) -> Columns:
    out: Columns = {f"natr_{S.ATR_PERIOD}": 100.0 * c.atr / b.close}
    atr_fast = talib.ATR(b.high, b.low, b.close, S.ATR_FAST)
    atr_slow = talib.ATR(b.high, b.low, b.close, S.ATR_SLOW)
    out[f"atr_ratio_{S.ATR_FAST}_{S.ATR_SLOW}"] = safe_div(atr_fast, atr_slow, fill=1.0)
    out["tr_atr"] = safe_div(talib.TRANGE(b.high, b.low, b.close), c.atr)
    # Bollinger from a per-window two-pass std: TA-Lib's BBANDS keeps running sums of squares
    # of price levels, whose cancellation error depends on where the series starts.
    mid = rolling_mean(b.close, S.BB_PERIOD)
    width = 2.0 * S.BB_NBDEV * rolling_std(b.close, S.BB_PERIOD)
    out[f"bb_width_{S.BB_PERIOD}"] = width / mid
    out[f"bb_pctb_{S.BB_PERIOD}"] = safe_div(b.close - (mid - width / 2.0), width, fill=0.5)
    squared = c.ret1 * c.ret1  # returns are ~1e-3 around 0: running sums are exact enough
    rv = {n: sqrt0(talib.SMA(squared, n)) for n in S.RV_PERIODS}
    for n in S.RV_PERIODS:
        out[f"rv_{n}"] = rv[n]
    fast, slow = S.RV_PERIODS
    out[f"rv_ratio_{fast}_{slow}"] = safe_div(rv[fast], rv[slow], fill=1.0)
    log_hl = np.log(b.high / b.low)
    parkinson = talib.SMA(log_hl * log_hl, S.PARKINSON_PERIOD) / (4.0 * np.log(2.0))
    out[f"parkinson_{S.PARKINSON_PERIOD}"] = sqrt0(parkinson)
    return out


def volume(b: BarArrays, c: Core) -> Columns:
    signed = np.sign(c.ret1) * b.volume  # the OBV increment; the OBV level itself is unused
    out: Columns = {}
    for n in S.OBV_PERIODS:
        out[f"obv_chg_{n}"] = safe_div(talib.SUM(signed, n), talib.SUM(b.volume, n))
    n = S.VOLUME_Z_PERIOD
    mean = talib.SMA(b.volume, n)
    out[f"vol_z_{n}"] = safe_div(b.volume - mean, rolling_std(b.volume, n))
    short, long = S.VOLUME_REL_PERIODS
    out[f"vol_rel_{short}_{long}"] = safe_div(
        talib.SMA(b.volume, short), talib.SMA(b.volume, long), fill=1.0)
    hl = b.high - b.low
    flow = safe_div((b.close - b.low) - (b.high - b.close), hl) * b.volume
    out[f"cmf_{S.CMF_PERIOD}"] = safe_div(
        talib.SUM(flow, S.CMF_PERIOD), talib.SUM(b.volume, S.CMF_PERIOD))
    return out


def candle(b: BarArrays, c: Core) -> Columns:
    body = b.close - b.open
    hl = b.high - b.low
    body_atr = safe_div(body, c.atr)
    return {
        "body_atr": body_atr,
        "upper_wick_atr": safe_div(b.high - np.maximum(b.open, b.close), c.atr),
        "lower_wick_atr": safe_div(np.minimum(b.open, b.close) - b.low, c.atr),
        "range_atr": safe_div(hl, c.atr),
        "body_frac": safe_div(body, hl),
        "close_pos": safe_div(b.close - b.low, hl, fill=0.5),
        "gap_atr": safe_div(b.open - shift(b.close, 1), c.atr),
        "body_atr_lag1": shift(body_atr, 1),
    }


def returns(b: BarArrays, c: Core) -> Columns:
    out: Columns = {f"ret_{k}": change(c.log_close, k) for k in S.RETURN_PERIODS}
    for lag in S.RETURN_LAGS:
        out[f"ret_1_lag_{lag}"] = shift(c.ret1, lag)
    rv_slow = sqrt0(talib.SMA(c.ret1 * c.ret1, S.RV_PERIODS[1]))
    out["ret_24_z"] = safe_div(out["ret_24"], rv_slow * np.sqrt(24.0))
    for n in S.RANGE_POS_PERIODS:
        low = talib.MIN(b.low, n)
        out[f"range_pos_{n}"] = safe_div(b.close - low, talib.MAX(b.high, n) - low, fill=0.5)
    return out
