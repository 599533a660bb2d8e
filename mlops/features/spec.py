"""The versioned feature set: parameters, ordered column names and their hash (pure).

Everything that changes what a column means lives here (windows, thresholds, session hours),
so that ``FEATURE_SET_HASH`` changes whenever a model trained on one set would be fed another.
Bump ``PARAMS_VERSION`` when a formula changes without a parameter or name changing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from marketdata.calendar import DAY_BOUNDARIES, DEFAULT_DAY_BOUNDARY, validate_day_boundary

FEATURE_SET_NAME = "nusatrade-v1"
# 2: D1 bins on the forex day (17:00 New York) by default, H4 counted from it.
PARAMS_VERSION = "2"
# Where D1 (and the H4 grid) start: "ny17" (forex day, default) or "utc" (midnight UTC).
DAY_BOUNDARY = DEFAULT_DAY_BOUNDARY

# --- H1 (base timeframe) parameters -------------------------------------------------------
RSI_PERIODS = (7, 14, 28)
ATR_PERIOD = 14
ATR_FAST, ATR_SLOW = 7, 28
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
STOCH_K, STOCH_SMOOTH, STOCH_D = 14, 3, 3
WILLR_PERIOD = 14
ROC_PERIODS = (10, 20)
CCI_PERIOD = 20
MFI_PERIOD = 14
ULTOSC_PERIODS = (7, 14, 28)
AROON_PERIOD = 25
ADX_PERIOD = 14
ADX_SLOPE_LAG = 5
EMA_PERIODS = (9, 21, 50)
SMA_PERIODS = (20, 50, 200)
EMA_SLOPE_PERIODS = (21, 50)
EMA_CROSS = (21, 50)  # (fast, slow), both in EMA_PERIODS
SMA_CROSS = (50, 200)  # (fast, slow), both in SMA_PERIODS
SLOPE_LAG = 5
LINREG_PERIOD = 20
BB_PERIOD, BB_NBDEV = 20, 2.0
RV_PERIODS = (24, 120)
PARKINSON_PERIOD = 24
OBV_PERIODS = (12, 48)
VOLUME_Z_PERIOD = 24
VOLUME_REL_PERIODS = (24, 120)
CMF_PERIOD = 20
RETURN_PERIODS = (1, 2, 3, 6, 12, 24, 48, 120)
RETURN_LAGS = (1, 2, 3)
RANGE_POS_PERIODS = (24, 120)

# Sessions in LOCAL time of the centre (DST-aware): [open hour, close hour) of the bar open.
SESSIONS: dict[str, tuple[str, int, int]] = {
    "tokyo": ("Asia/Tokyo", 9, 18),
    "london": ("Europe/London", 8, 17),
    "newyork": ("America/New_York", 8, 17),
}

# --- Regime ------------------------------------------------------------------------------
REGIME_RANK_WINDOW = 500  # trailing bars for the NATR percentile (about one month of H1)
REGIME_VOLATILE_PCT = 0.5  # NATR above its trailing median is "volatile"
REGIME_TREND_ADX = 25.0  # ADX at or above this is "trend"

# --- Higher timeframes --------------------------------------------------------------------
# H4 uses TA-Lib's recursive (EMA/Wilder) indicators; D1 uses finite-memory variants (SMA of
# true range, Cutler's RSI, efficiency ratio) so that a bounded live lookback does not have to
# wait hundreds of days for a D1 seed to decay (see docs/ml-features.md).
H4_RSI, H4_ATR, H4_ADX, H4_EMA = 14, 14, 14, 21
H4_MACD = (12, 26, 9)
H4_SLOPE_LAG = 3
H4_RETURN_PERIODS = (1, 6)
H4_RANGE_PERIOD = 30
D1_RSI, D1_ATR, D1_ER, D1_SMA = 14, 14, 10, 20
D1_SLOPE_LAG = 3
D1_RETURN_PERIODS = (1, 5)
D1_RANGE_PERIOD = 20

# Every parameter defined above this line, so the hash follows any change of one of them.
PARAMS: dict[str, object] = {
    key: value for key, value in sorted(globals().items())
    if key.isupper() and isinstance(value, int | float | tuple | dict)
}


def _names(prefix: str, periods: Sequence[int]) -> list[str]:
    return [f"{prefix}_{p}" for p in periods]


MOMENTUM_COLUMNS = [
    *_names("rsi", RSI_PERIODS),
    "macd_atr", "macd_signal_atr", "macd_hist_atr",
    "stoch_k", "stoch_d", f"willr_{WILLR_PERIOD}",
    *_names("roc", ROC_PERIODS),
    f"cci_{CCI_PERIOD}", f"mfi_{MFI_PERIOD}", "ultosc", f"aroonosc_{AROON_PERIOD}",
]
TREND_COLUMNS = [
    f"adx_{ADX_PERIOD}", f"plus_di_{ADX_PERIOD}", f"minus_di_{ADX_PERIOD}", "di_balance",
    f"adx_slope_{ADX_SLOPE_LAG}",
    *_names("ema_dist", EMA_PERIODS),
    *_names("sma_dist", SMA_PERIODS),
    *_names("ema_slope", EMA_SLOPE_PERIODS),
    "ema_cross_{}_{}".format(*EMA_CROSS), "sma_cross_{}_{}".format(*SMA_CROSS),
    f"linreg_slope_{LINREG_PERIOD}",
]
VOLATILITY_COLUMNS = [
    f"natr_{ATR_PERIOD}", f"atr_ratio_{ATR_FAST}_{ATR_SLOW}", "tr_atr",
    f"bb_width_{BB_PERIOD}", f"bb_pctb_{BB_PERIOD}",
    *_names("rv", RV_PERIODS), f"rv_ratio_{RV_PERIODS[0]}_{RV_PERIODS[1]}",
    f"parkinson_{PARKINSON_PERIOD}",
]
VOLUME_COLUMNS = [
    *_names("obv_chg", OBV_PERIODS),
    f"vol_z_{VOLUME_Z_PERIOD}", f"vol_rel_{VOLUME_REL_PERIODS[0]}_{VOLUME_REL_PERIODS[1]}",
    f"cmf_{CMF_PERIOD}",
]
CANDLE_COLUMNS = [
    "body_atr", "upper_wick_atr", "lower_wick_atr", "range_atr",
    "body_frac", "close_pos", "gap_atr", "body_atr_lag1",
]
RETURN_COLUMNS = [
    *_names("ret", RETURN_PERIODS),
    *_names("ret_1_lag", RETURN_LAGS),
    "ret_24_z",
    *_names("range_pos", RANGE_POS_PERIODS),
]
CALENDAR_COLUMNS = [
    "hour_sin", "hour_cos", "dow_sin", "dow_cos",
    *[f"session_{name}" for name in SESSIONS], "session_overlap",
]
REGIME_COLUMNS = [f"atr_pct_{REGIME_RANK_WINDOW}", "regime_volatile", "regime_trend", "regime"]
H4_COLUMNS = [
    "h4_rsi_14", "h4_natr_14", "h4_adx_14", "h4_di_balance", "h4_ema_dist_21",
    "h4_ema_slope_21", "h4_macd_hist_atr",
    *_names("h4_ret", H4_RETURN_PERIODS),
    f"h4_range_pos_{H4_RANGE_PERIOD}", "h4_body_atr",
]
D1_COLUMNS = [
    "d1_rsi_14", "d1_natr_14", "d1_er_10", "d1_sma_dist_20", "d1_sma_slope_20",
    *_names("d1_ret", D1_RETURN_PERIODS),
    f"d1_range_pos_{D1_RANGE_PERIOD}", "d1_body_atr", "d1_prev_pos",
]

FEATURE_FAMILIES: dict[str, list[str]] = {
    "momentum": MOMENTUM_COLUMNS,
    "trend": TREND_COLUMNS,
    "volatility": VOLATILITY_COLUMNS,
    "volume": VOLUME_COLUMNS,
    "candle": CANDLE_COLUMNS,
    "returns": RETURN_COLUMNS,
    "calendar": CALENDAR_COLUMNS,
    "regime": REGIME_COLUMNS,
    "h4": H4_COLUMNS,
    "d1": D1_COLUMNS,
}
FEATURE_COLUMNS: list[str] = [name for cols in FEATURE_FAMILIES.values() for name in cols]


def feature_set_hash(name: str, columns: Sequence[str], params_version: str,
                     params: dict[str, object] | None = None) -> str:
    """sha256 hex of the set's name, ordered columns, parameters version and parameters."""
    payload = json.dumps(
        {"name": name, "columns": list(columns), "params_version": params_version,
         "params": params or {}},
        sort_keys=True, separators=(",", ":"), default=list,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def feature_set_params(day_boundary: str = DAY_BOUNDARY) -> dict[str, object]:
    """Every parameter of the set, the day boundary included (a string, so not in PARAMS)."""
    return {**PARAMS, "DAY_BOUNDARY": validate_day_boundary(day_boundary)}


FEATURE_SET_HASHES: dict[str, str] = {
    boundary: feature_set_hash(FEATURE_SET_NAME, FEATURE_COLUMNS, PARAMS_VERSION,
                               feature_set_params(boundary))
    for boundary in DAY_BOUNDARIES
}
FEATURE_SET_HASH = FEATURE_SET_HASHES[DAY_BOUNDARY]


def feature_set_id(day_boundary: str = DAY_BOUNDARY) -> str:
    """``"name:hash12"``: what the model registry stores with each model."""
    return f"{FEATURE_SET_NAME}:{FEATURE_SET_HASHES[validate_day_boundary(day_boundary)][:12]}"
