"""``WARMUP_BARS``: an upper bound of the leading rows in which some feature is NaN (pure).

Derived from the parameters (TA-Lib's lookback of each indicator is the number of leading
NaN outputs), so it follows them. A higher-timeframe value needs ``k`` earlier bins plus its
own to be complete; a bin of D hours holds at most D H1 rows, whatever the calendar, and the
first bin of a series may be partial, hence ``hours * (lookback + 1)`` rows. A forex day
(17:00 New York to 17:00 New York) lasts 25 hours once a year (DST ends) and its last H4 bin
5 hours, so those are the bounds used.
"""

from __future__ import annotations

from mlops.features import spec as S

_H1_LOOKBACK = max(
    S.ATR_PERIOD + S.REGIME_RANK_WINDOW - 1,  # rolling rank of NATR
    max(S.SMA_PERIODS) - 1,
    max(S.RETURN_PERIODS),
    max(S.RV_PERIODS),  # one return, then a mean of that many
    S.MACD_SLOW + S.MACD_SIGNAL - 2,
    2 * S.ADX_PERIOD - 1 + S.ADX_SLOPE_LAG,
)
_H4_BIN_LOOKBACK = max(
    sum(S.H4_MACD[1:]) - 2,
    2 * S.H4_ADX - 1,
    S.H4_EMA - 1 + S.H4_SLOPE_LAG,
    S.H4_RANGE_PERIOD - 1,
    max(S.H4_RETURN_PERIODS),
)
_D1_BIN_LOOKBACK = max(
    S.D1_SMA - 1 + S.D1_SLOPE_LAG,
    S.D1_ATR,  # true range needs the previous close
    S.D1_RSI,
    S.D1_ER,
    S.D1_RANGE_PERIOD - 1,
    max(S.D1_RETURN_PERIODS),
)

_MAX_H4_BIN_HOURS = 5
_MAX_D1_BIN_HOURS = 25

WARMUP_BARS: int = max(
    _H1_LOOKBACK,
    _MAX_H4_BIN_HOURS * (_H4_BIN_LOOKBACK + 1),
    _MAX_D1_BIN_HOURS * (_D1_BIN_LOOKBACK + 1),
)
