"""Deterministic synthetic bars: a gold-like series for demos and tests, and a signal-free random
walk and a planted-edge series for ML honesty tests and the known-answer controls of
``make demo``. Pure: no Django.

The gold-like model (docs/marketdata-derived.md has the why of every parameter):

- bars only on the forex-week calendar (``marketdata.calendar``), Dec 25 and Jan 1 closed;
- log-price process, so prices stay positive; OHLC consistent by construction;
- per-bar volatility = base hourly volatility x intraday seasonality (quiet Asia, busy London
  and the London/New York overlap, thin rollover) x stochastic volatility (two AR(1) log-vol
  factors, a fast one with a two-day half-life and a slow one with a quarter's: volatility
  clustering like GARCH) with occasional news jumps;
- regime switching: every few weeks the market turns trending (a random drift) or ranging
  (no drift, mean-reverting MA(1) noise), around a small long-run drift;
- weekend and holiday gaps: the first bar after a closure opens away from the last close;
- high/low drawn exactly from the Brownian bridge's extremes given open, close and volatility;
- tick volume follows volatility and activity; spread (in points) widens when quiet.

Resolution: M1 and M5 are generated directly; every timeframe from M15 up is generated at M15
and resampled, so M15, M30, H1, H4 and D1 of the same seed describe the same path.

Determinism: one ``(n, K)`` matrix of uniforms per call, one row per base bar, and only causal
transforms, so a longer series starts with exactly the bars of a shorter one (same seed, same
start). ``PaperBroker`` relies on that to continue a series the same way at any clock.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from marketdata import calendar, timeframes
from marketdata.resample import resample_bars

BAR_COLUMNS = ["open", "high", "low", "close", "volume", "spread"]
# Trading hours in a year: 52.18 weeks x 120 h, less two holidays.
HOURS_PER_YEAR = 6240.0
_BASE_MINUTES = 15
_DAYS_PER_YEAR = 365.25

# Relative volatility by UTC hour: Asia quiet, London open, London/New York overlap and the
# 13:30 UTC US data hour busiest, rollover (21-23) thinnest. Normalised to mean square 1.
_SEASON_RAW = np.array([
    0.70, 0.75, 0.70, 0.65, 0.60, 0.60, 0.75, 1.05, 1.15, 1.05, 0.95, 0.95,
    1.25, 1.60, 1.65, 1.45, 1.15, 0.95, 0.85, 0.80, 0.70, 0.50, 0.45, 0.60,
])
SEASONALITY = _SEASON_RAW / np.sqrt(np.mean(_SEASON_RAW ** 2))


@dataclass(frozen=True)
class SymbolProfile:
    """What a symbol's synthetic bars look like."""

    digits: int
    annual_vol: float
    spread_points: tuple[int, int]
    ticks_per_hour: float
    typical_price: float      # a recent price: where a paper feed without history starts
    start_price: float        # the price on the default start, 2005-01-03


PROFILES: dict[str, SymbolProfile] = {
    "XAUUSD": SymbolProfile(digits=2, annual_vol=0.16, spread_points=(20, 50),
                            ticks_per_hour=4000.0, typical_price=2000.0, start_price=430.0),
    "EURUSD": SymbolProfile(digits=5, annual_vol=0.08, spread_points=(5, 20),
                            ticks_per_hour=2500.0, typical_price=1.10, start_price=1.35),
}


def profile_for(symbol: str) -> SymbolProfile:
    """The profile of ``symbol``; unknown symbols look like gold."""
    return PROFILES.get(symbol.upper(), PROFILES["XAUUSD"])


@dataclass(frozen=True)
class ModelParams:
    """Parameters of the gold-like model (defaults documented in docs/marketdata-derived.md)."""

    annual_drift: float = 0.07            # long-run log drift per year
    fast_vol_half_life_hours: float = 48.0
    fast_vol_of_vol: float = 0.35         # stationary sd of the fast log-vol factor
    slow_vol_half_life_hours: float = 1560.0
    slow_vol_of_vol: float = 0.25
    regime_mean_hours: float = 240.0      # mean regime length in trading hours (two weeks)
    trend_share: float = 0.5              # probability that a new regime trends
    trend_drift_sd: float = 0.60          # sd of a trending regime's annual drift
    ranging_ma: float = 0.15              # MA(1) reversal coefficient while ranging
    jump_prob_per_hour: float = 0.002
    jump_sd: float = 4.0                  # jump size in units of the bar's volatility
    closure_vol_share: float = 0.25       # gap variance per closed hour, vs an average hour


DEFAULT_PARAMS = ModelParams()

# Columns of the uniform matrix, one row per base bar.
(_U_RET_R, _U_RET_T, _U_FAST_R, _U_FAST_T, _U_SWITCH, _U_KIND, _U_JUMP, _U_HIGH, _U_LOW,
 _U_VOLUME, _U_SPREAD, _U_EXTRA_R, _U_EXTRA_T) = range(13)
_N_UNIFORMS = 13


def _rng(seed: int, *salt: str) -> np.random.Generator:
    keys = [zlib.crc32(s.encode()) for s in salt]
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *keys])


def _box_muller(u_r: np.ndarray, u_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    radius = np.sqrt(-2.0 * np.log1p(-u_r))  # 1 - u in (0, 1]: never log(0)
    angle = 2.0 * np.pi * u_t
    return radius * np.cos(angle), radius * np.sin(angle)


def _ar1(x: np.ndarray, phi: float, block: int = 64) -> np.ndarray:
    """y[t] = phi * y[t-1] + x[t], y[-1] = 0, vectorised in blocks.

    Only elementwise operations (no BLAS), so the first k outputs are bit-identical whatever
    the length of ``x``: the prefix property the paper broker needs.
    """
    n = x.size
    if n <= block:
        out = np.empty(n)
        acc = 0.0
        for i in range(n):
            acc = phi * acc + float(x[i])
            out[i] = acc
        return out
    rows = -(-n // block)
    local = np.zeros(rows * block)
    local[:n] = x
    local = local.reshape(rows, block)
    for i in range(1, block):
        local[:, i] += phi * local[:, i - 1]
    carry = _ar1(local[:, -1].copy(), phi ** block)  # the state at the end of each block
    previous = np.r_[0.0, carry[:-1]]
    powers = phi ** np.arange(1, block + 1)
    return (local + previous[:, None] * powers[None, :]).ravel()[:n]


def _log_vol(z: np.ndarray, hours_per_bar: float, half_life: float, sd: float) -> np.ndarray:
    phi = 0.5 ** (hours_per_bar / half_life)
    shocks = z * sd * np.sqrt(1.0 - phi * phi)
    shocks[:1] = z[:1] * sd  # start from the stationary distribution
    return _ar1(shocks, phi)


def _regime_drift(u: np.ndarray, z: np.ndarray, hours: float,
                  p: ModelParams) -> tuple[np.ndarray, np.ndarray]:
    """Annual drift per bar and the ranging mask, from regime switches."""
    n = u.shape[0]
    switch = u[:, _U_SWITCH] < -np.expm1(-hours / p.regime_mean_hours)
    switch[:1] = True
    start = np.maximum.accumulate(np.where(switch, np.arange(n), 0))
    trending = u[start, _U_KIND] < p.trend_share
    drift = np.where(trending, z[start] * p.trend_drift_sd, 0.0) + p.annual_drift
    return drift, ~trending


def _noise(z: np.ndarray, ranging: np.ndarray, theta: float) -> np.ndarray:
    previous = np.r_[0.0, z[:-1]]
    reverting = (z - theta * previous) / np.sqrt(1.0 + theta * theta)
    return np.where(ranging, reverting, z)


@dataclass(frozen=True)
class _Path:
    log_open: np.ndarray
    log_close: np.ndarray
    ret: np.ndarray
    sigma: np.ndarray
    activity: np.ndarray
    shock: np.ndarray


def _gold_path(ns: np.ndarray, u: np.ndarray, minutes: int, start_price: float,
               prof: SymbolProfile, p: ModelParams) -> _Path:
    hours = minutes / 60.0
    season = SEASONALITY[(ns // calendar.HOUR_NS) % 24]
    z_ret, z_jump = _box_muller(u[:, _U_RET_R], u[:, _U_RET_T])
    z_fast, z_slow = _box_muller(u[:, _U_FAST_R], u[:, _U_FAST_T])
    z_drift, z_gap = _box_muller(u[:, _U_EXTRA_R], u[:, _U_EXTRA_T])
    log_vol = (_log_vol(z_fast, hours, p.fast_vol_half_life_hours, p.fast_vol_of_vol)
               + _log_vol(z_slow, hours, p.slow_vol_half_life_hours, p.slow_vol_of_vol))
    vol_factor = np.exp(log_vol - (p.fast_vol_of_vol ** 2 + p.slow_vol_of_vol ** 2))
    hourly = prof.annual_vol / np.sqrt(HOURS_PER_YEAR)
    sigma = hourly * np.sqrt(hours) * season * vol_factor
    drift, ranging = _regime_drift(u, z_drift, hours, p)
    jumps = (u[:, _U_JUMP] < p.jump_prob_per_hour * hours * season ** 2) * z_jump * p.jump_sd
    shock = _noise(z_ret, ranging, p.ranging_ma) + jumps
    ret = drift * hours / HOURS_PER_YEAR + sigma * shock
    closed_hours = np.r_[0.0, np.diff(ns) / calendar.HOUR_NS - hours]
    gap = z_gap * hourly * np.sqrt(np.maximum(closed_hours, 0.0) * p.closure_vol_share)
    log_close = np.log(start_price) + np.cumsum(gap * vol_factor + ret)
    return _Path(log_open=_opens(start_price, log_close, gap * vol_factor), log_close=log_close,
                 ret=ret, sigma=sigma, activity=season * vol_factor, shock=np.abs(shock))


def _opens(start_price: float, log_close: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Each bar opens at the previous close (bit for bit) plus the closure gap, if any."""
    return np.r_[np.log(start_price), log_close[:-1]] + gap


def _bridge_extremes(ret: np.ndarray, sigma: np.ndarray, u_high: np.ndarray,
                     u_low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max and min of a Brownian bridge from 0 to ``ret`` with variance ``sigma**2``, sampled
    exactly: P(max > m) = exp(-2 m (m - ret) / sigma^2) for m >= max(0, ret)."""
    var = sigma * sigma
    high = 0.5 * (ret + np.sqrt(ret * ret - 2.0 * var * np.log1p(-u_high)))
    low = 0.5 * (ret - np.sqrt(ret * ret - 2.0 * var * np.log1p(-u_low)))
    return high, low


def _to_frame(ns: np.ndarray, log_open: np.ndarray, log_close: np.ndarray, high: np.ndarray,
              low: np.ndarray, digits: int | None) -> pd.DataFrame:
    """Prices from log open/close and the bridge extremes (relative to the open)."""
    open_, close = np.exp(log_open), np.exp(log_close)
    prices = {"open": open_, "close": close,
              # The extremes bracket the body exactly; the clamp only absorbs float rounding.
              "high": np.maximum(np.exp(log_open + high), np.maximum(open_, close)),
              "low": np.minimum(np.exp(log_open + low), np.minimum(open_, close))}
    if digits is not None:
        # Rounding is monotonic, so high >= max(open, close) >= min(open, close) >= low holds.
        point = 10.0 ** -digits
        prices = {k: np.maximum(np.round(v, digits), point) for k, v in prices.items()}
    return pd.DataFrame(prices, index=calendar.utc_index(ns))[["open", "high", "low", "close"]]


def _volume_and_spread(path: _Path, u: np.ndarray, hours: float,
                       prof: SymbolProfile) -> tuple[np.ndarray, np.ndarray]:
    noise = 0.6 + 0.8 * u[:, _U_VOLUME]
    volume = np.round(prof.ticks_per_hour * hours * path.activity ** 1.2 * noise
                      * (1.0 + 0.4 * np.minimum(path.shock, 6.0)))
    low, high = prof.spread_points
    quiet = 1.0 / np.maximum(path.activity, 0.2)
    share = np.clip(0.3 * (quiet - 0.6) + 0.15 * u[:, _U_SPREAD], 0.0, 1.0)
    spread = np.round(low + (high - low) * share)
    return np.maximum(volume, 1.0), spread


def _base_timeframe(tf: timeframes.Timeframe) -> timeframes.Timeframe:
    return tf if tf.minutes <= _BASE_MINUTES else timeframes.get("M15")


def generate_range(start: str | datetime | pd.Timestamp, end: str | datetime | pd.Timestamp,
                   timeframe: str = "H1", seed: int = 42, *, symbol: str = "XAUUSD",
                   start_price: float = 430.0, holidays: Iterable[date] | None = None,
                   params: ModelParams = DEFAULT_PARAMS) -> pd.DataFrame:
    """Gold-like bars opening in ``[start, end)`` (both snapped down to the timeframe's grid).

    ``holidays`` defaults to Dec 25 and Jan 1 of every year covered. The first bar opens at
    ``start_price``. Same arguments, same frame; a later ``end`` only appends bars.
    """
    tf = timeframes.get(timeframe)
    step = pd.Timedelta(minutes=tf.minutes)
    # Every timeframe divides a day, so flooring to it is flooring on the UTC grid.
    first = calendar.to_utc_timestamp(start).floor(step)
    stop = calendar.to_utc_timestamp(end).floor(step)
    if holidays is None:
        holidays = calendar.default_holidays(first.year - 1, stop.year + 1)
    holidays = tuple(holidays)
    base = _base_timeframe(tf)
    ns = calendar.to_ns(calendar.expected_times(first, stop, base.name, holidays))
    prof = profile_for(symbol)
    u = _rng(seed, symbol.upper(), "gold").random((ns.size, _N_UNIFORMS))
    path = _gold_path(ns, u, base.minutes, start_price, prof, params)
    high, low = _bridge_extremes(path.ret, path.sigma, u[:, _U_HIGH], u[:, _U_LOW])
    frame = _to_frame(ns, path.log_open, path.log_close, high, low, prof.digits)
    frame["volume"], frame["spread"] = _volume_and_spread(path, u, base.minutes / 60.0, prof)
    if base is not tf and len(frame):
        frame = resample_bars(frame, tf.name, from_timeframe=base.name, holidays=holidays)
    return frame[BAR_COLUMNS].astype("float64")


def generate_bars(timeframe: str = "H1", years: float = 21, seed: int = 42, *,
                  symbol: str = "XAUUSD", start: str = "2005-01-03",
                  start_price: float = 430.0, holidays: Iterable[date] | None = None,
                  params: ModelParams = DEFAULT_PARAMS) -> pd.DataFrame:
    """``years`` of gold-like bars from ``start`` (bars convention; see the module docstring).

    21 years of H1 from 2005-01-03 is about 130k bars. Same arguments, same frame.
    """
    if years <= 0:
        raise ValueError("years must be positive")
    begin = calendar.to_utc_timestamp(start)
    end = begin + pd.Timedelta(days=years * _DAYS_PER_YEAR)
    return generate_range(begin, end, timeframe, seed, symbol=symbol, start_price=start_price,
                          holidays=holidays, params=params)


def bars_in_years(years: float, timeframe: str = "H1") -> int:
    """How many ``timeframe`` bars ``years`` of the forex-week calendar hold (6,240 trading
    hours a year)."""
    if years <= 0:
        raise ValueError("years must be positive")
    return int(years * HOURS_PER_YEAR * 60 / timeframes.get(timeframe).minutes)


def _calendar_ns(n: int, timeframe: str, start: str) -> np.ndarray:
    """Open times (int64 ns) of the first ``n`` bars of the calendar from ``start``."""
    if n < 0:
        raise ValueError("n must be >= 0")
    tf = timeframes.get(timeframe)
    begin = calendar.to_utc_timestamp(start)
    # Five trading days in seven, plus room for holidays.
    span = pd.Timedelta(minutes=tf.minutes) * int(n * 1.45 + 10) + pd.Timedelta(days=14)
    return calendar.to_ns(calendar.expected_times(begin, begin + span, tf.name))[:n]


def _walk_frame(ns: np.ndarray, ret: np.ndarray, u: np.ndarray, sigma: np.ndarray,
                start_price: float, digits: int | None) -> pd.DataFrame:
    """Bars of the log-price path ``cumsum(ret)``: no gaps, bridge extremes, independent
    volume (``u[:, 4]``) and a constant spread."""
    log_close = np.log(start_price) + np.cumsum(ret)
    log_open = _opens(start_price, log_close, np.zeros(ns.size))
    high, low = _bridge_extremes(ret, sigma, u[:, 2], u[:, 3])
    frame = _to_frame(ns, log_open, log_close, high, low, digits)
    frame["volume"] = np.round(500.0 + 1000.0 * u[:, 4])
    frame["spread"] = 10.0
    return frame[BAR_COLUMNS].astype("float64")


def random_walk_bars(n: int, seed: int = 0, *, timeframe: str = "H1",
                     start: str = "2020-01-06", start_price: float = 100.0,
                     vol_per_bar: float = 0.002, digits: int | None = None) -> pd.DataFrame:
    """``n`` bars of a driftless log random walk with constant volatility: nothing in it can
    predict the next return (no seasonality, no clustering, no regimes, independent volume and
    a constant spread). For tests that an ML pipeline finds no edge where there is none, and
    the known-answer control of ``make demo`` (a model trained on it must end NO-GO).

    The log return of every bar (close over open; each bar opens at the previous close) is
    ``vol_per_bar * z`` with ``z`` i.i.d. standard normal: mean 0, lag-k autocorrelation 0.
    """
    ns = _calendar_ns(n, timeframe, start)
    u = _rng(seed, "random-walk").random((ns.size, 5))
    z, _ = _box_muller(u[:, 0], u[:, 1])
    return _walk_frame(ns, vol_per_bar * z, u, np.full(ns.size, vol_per_bar), start_price,
                       digits)


def planted_edge_bars(n: int, seed: int = 0, *, edge: float = 0.25,
                      regime_bars: float = 240.0, timeframe: str = "H1",
                      start: str = "2020-01-06", start_price: float = 100.0,
                      vol_per_bar: float = 0.002, digits: int | None = None) -> pd.DataFrame:
    """``n`` bars with a PLANTED, known edge: persistent trends, for the known-answer control
    of ``make demo`` (the pipeline must find it).

    What is planted, exactly: a hidden direction ``s[t]`` in {+1, -1}, and the log return of
    bar t (close over open; every bar opens at the previous close, no gaps) is

        r[t] = s[t] * edge * vol_per_bar + vol_per_bar * z[t],   z i.i.d. N(0, 1).

    ``s`` is re-drawn at each bar with probability ``1 / regime_bars``; a re-draw points the
    trend back toward the start price (down when the last close is above it, up when below),
    which keeps the price in a plausible band over years instead of wandering off (with the
    defaults the direction changes about every 480 bars). The first direction is a coin flip.
    Long run there is no drift. Everything else is the random walk's (constant volatility,
    independent volume, constant spread). Nothing about the future leaks: ``s[t]`` is decided
    before bar t from the past only, and is visible to a model only through past returns.

    How strong (defaults: edge 0.25 bar-sd a bar): a trader who knew ``s[t]`` would call the
    next bar right with probability Phi(0.25) = 59.9%, and over a 24-bar hold would expect
    6.0 sd of move against 4.9 sd of noise. A model does not know ``s[t]``; it can infer it
    from the returns of the last 24-120 bars (the feature set has them: ``ret_24``,
    ``ret_48``, ``ret_120``, moving-average slopes and crosses), late after each change. Why
    trends rather than bar-to-bar momentum: the strategy holds a position until its stop,
    target or an opposite signal (many bars), so only an edge that lasts that long can pay
    its costs.
    """
    _validate_regime_bars(regime_bars)
    ns = _calendar_ns(n, timeframe, start)
    u = _rng(seed, "planted-trend").random((ns.size, 6))
    z, _ = _box_muller(u[:, 0], u[:, 1])
    direction = _trend_direction(u[:, 5], z, edge, regime_bars)
    ret = vol_per_bar * (edge * direction + z)
    return _walk_frame(ns, ret, u, np.full(ns.size, vol_per_bar), start_price, digits)


def planted_direction(n: int, seed: int = 0, *, edge: float = 0.25,
                      regime_bars: float = 240.0) -> np.ndarray:
    """The hidden trend direction (+1/-1) of ``planted_edge_bars(n, seed, ...)``, bar by bar:
    for tests that measure the planted effect, never for a model."""
    _validate_regime_bars(regime_bars)
    u = _rng(seed, "planted-trend").random((n, 6))
    z, _ = _box_muller(u[:, 0], u[:, 1])
    return _trend_direction(u[:, 5], z, edge, regime_bars)


def _validate_regime_bars(regime_bars: float) -> None:
    if regime_bars < 1:
        raise ValueError("regime_bars must be >= 1")


def _trend_direction(u: np.ndarray, z: np.ndarray, edge: float,
                     regime_bars: float) -> np.ndarray:
    """+1/-1 per bar (see ``planted_edge_bars``): a re-draw where ``u < 1 / regime_bars``
    points back toward the start price; the level is tracked in bar-sd units. Causal: the
    direction of bar t depends on bars before t only."""
    redraw = u < 1.0 / regime_bars
    out = np.empty(u.size)
    current = 1.0 if u.size and u[0] < 0.5 else -1.0
    level = 0.0
    for t in range(u.size):
        if redraw[t] and t:
            current = -1.0 if level > 0.0 else 1.0
        out[t] = current
        level += edge * current + float(z[t])
    return out
