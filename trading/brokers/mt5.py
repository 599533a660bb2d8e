"""MetaTrader 5 through the ``MetaTrader5`` module, or anything with its API (mt5linux, the
simulator): connection and market data here, orders in :mod:`trading.brokers.mt5_trading`.

The module is injected: the real ``MetaTrader5`` package (Windows only) is imported lazily by
``trading.brokers.broker_for`` when MT5 is configured, the simulator
(``trading.brokers.mt5sim.MT5Simulator``) everywhere else. Tests never import ``MetaTrader5``.

Broker quirks handled here:

- ``copy_rates_from_pos(symbol, tf, 0, n)`` returns bars oldest first and its LAST row
  (position 0) is the bar still forming: we ask for one more bar and always drop it. During the
  weekend position 0 is Friday's last, already complete bar; dropping it anyway is the safe
  side (it is delivered once Monday's first bar opens). As a second guard, any bar whose period
  has not ended by our own clock is dropped too.
- Bar ``time`` is seconds since 1970 on the broker SERVER's wall clock, not UTC: most brokers
  run GMT+2 in winter and GMT+3 in summer so that New York's 17:00 close is midnight
  (``server_timezone="NY+7"``); others use an IANA zone or UTC. We convert to UTC.
- Every call can answer ``None``/``False``; ``last_error()`` then says why. IPC and generic
  failures are retryable (TemporaryBrokerError); bad parameters, unknown symbols and failed
  authorisation are not (BrokerError). Messages never contain the password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from marketdata import timeframes
from marketdata.resample import resample_bars
from nusatrade.errors import BrokerError, ConfigurationError, DataError, TemporaryBrokerError
from trading.brokers.base import (
    MAX_BARS_PER_REQUEST,
    BrokerClient,
    Clock,
    InstrumentSpec,
    empty_bars,
    only_closed,
    utc_now,
    validate_count,
)
from trading.brokers.mt5_trading import MT5Trading
from trading.pnl import to_decimal

logger = logging.getLogger("nusatrade.brokers.mt5")

# last_error() codes of the MetaTrader5 module (same values as its RES_* constants).
RES_S_OK = 1
RES_E_FAIL = -1
RES_E_INVALID_PARAMS = -2
RES_E_NO_MEMORY = -3
RES_E_NOT_FOUND = -4
RES_E_INVALID_VERSION = -5
RES_E_AUTH_FAILED = -6
RES_E_UNSUPPORTED = -7
RES_E_AUTO_TRADING_DISABLED = -8
RES_E_INTERNAL_FAIL = -10000
RES_E_INTERNAL_FAIL_SEND = -10001
RES_E_INTERNAL_FAIL_RECEIVE = -10002
RES_E_INTERNAL_FAIL_INIT = -10003
RES_E_INTERNAL_FAIL_CONNECT = -10004
RES_E_INTERNAL_FAIL_TIMEOUT = -10005
# The terminal link broke: reconnect before the next call.
IPC_ERRORS = frozenset(range(RES_E_INTERNAL_FAIL_TIMEOUT, RES_E_INTERNAL_FAIL + 1))
# Worth retrying: the link, memory, or a generic failure (history still downloading).
TEMPORARY_ERRORS = IPC_ERRORS | {RES_E_FAIL, RES_E_NO_MEMORY}

# Server time zone of brokers that keep New York's 17:00 close at midnight (GMT+2/GMT+3 on the
# US daylight-saving schedule).
NY_CLOSE = "NY+7"
_NY = "America/New_York"
_NY_SHIFT = pd.Timedelta(hours=7)
_UTC_NAMES = ("", "UTC", "Etc/UTC", "GMT")


def validate_server_timezone(name: str) -> str:
    if name in _UTC_NAMES or name == NY_CLOSE:
        return name
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"MT5 server time zone {name!r} is not an IANA zone, UTC or {NY_CLOSE}") from None
    return name


def server_to_utc(seconds: np.ndarray, server_timezone: str) -> pd.DatetimeIndex:
    """Bar times (server wall-clock seconds) as a UTC index named "time"."""
    naive = pd.DatetimeIndex(np.asarray(seconds, dtype="int64").astype("datetime64[s]"),
                             name="time").as_unit("us")
    if server_timezone in _UTC_NAMES:
        return naive.tz_localize("UTC")
    zone, shift = (_NY, _NY_SHIFT) if server_timezone == NY_CLOSE else (server_timezone, None)
    local = naive - shift if shift is not None else naive
    try:
        aware = local.tz_localize(zone, ambiguous="raise", nonexistent="raise")
    except (ValueError, TypeError) as exc:  # pytz/zoneinfo ambiguity errors are ValueErrors
        raise DataError(f"bar time falls in a daylight-saving switch of {server_timezone}: {exc}",
                        column="time") from None
    return aware.tz_convert("UTC").rename("time")


def utc_to_server(index: pd.DatetimeIndex, server_timezone: str) -> np.ndarray:
    """UTC times as server wall-clock seconds (what the terminal reports)."""
    utc = pd.DatetimeIndex(index).tz_convert("UTC")
    if server_timezone in _UTC_NAMES:
        local = utc.tz_localize(None)
    elif server_timezone == NY_CLOSE:
        local = utc.tz_convert(_NY).tz_localize(None) + _NY_SHIFT
    else:
        local = utc.tz_convert(server_timezone).tz_localize(None)
    return local.as_unit("s").asi8


def rates_to_frame(rates: np.ndarray, server_timezone: str = "UTC") -> pd.DataFrame:
    """A ``copy_rates_*`` structured array as a bars-convention DataFrame (all rows kept)."""
    if len(rates) == 0:
        return empty_bars()
    index = server_to_utc(rates["time"], server_timezone)
    frame = pd.DataFrame({
        "open": rates["open"].astype("float64"), "high": rates["high"].astype("float64"),
        "low": rates["low"].astype("float64"), "close": rates["close"].astype("float64"),
        "volume": rates["tick_volume"].astype("float64"),
        "spread": rates["spread"].astype("float64"),
    }, index=index)
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise DataError("MT5 returned bars out of time order", column="time")
    return frame


class MT5Broker(MT5Trading, BrokerClient):
    """One MT5 account through an injected ``MetaTrader5``-like module: market data here, the
    trading half in :class:`trading.brokers.mt5_trading.MT5Trading`.

    ``max_attempts`` bounds the sends of one order when the server asks to re-price (requote,
    price changed, off quotes), waiting ``backoff_s`` then twice as long each time through
    ``sleep`` (injected by tests, so they do not wait).
    """

    name = "mt5"
    synthetic = False

    def __init__(self, module: Any, login: int | str, server: str,
                 password_provider: Callable[[], str | None], *, path: str | None = None,
                 timeout_ms: int = 60_000, server_timezone: str = "UTC",
                 clock: Clock = utc_now, max_attempts: int = 4, backoff_s: float = 0.25,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        try:
            self._login = int(login)
        except (TypeError, ValueError):
            raise ConfigurationError("MT5 login must be the numeric account number") from None
        self._module = module
        self._server = server
        self._password_provider = password_provider
        self._path = path or None
        self._timeout_ms = int(timeout_ms)
        self._server_timezone = validate_server_timezone(server_timezone)
        self._clock = clock
        self._connected = False
        if int(max_attempts) < 1:
            raise ConfigurationError("MT5 max_attempts must be at least 1")
        self._max_attempts = int(max_attempts)
        self._backoff_s = float(backoff_s)
        self._sleep = sleep

    def __repr__(self) -> str:  # never the password
        return f"MT5Broker(login={self._login}, server={self._server!r})"

    def _fail(self, action: str) -> BrokerError:
        code, description = self._module.last_error()
        if code in IPC_ERRORS:
            self._connected = False
        cls = TemporaryBrokerError if code in TEMPORARY_ERRORS else BrokerError
        logger.warning("MT5 %s failed: %s (%s)", action, description, code)
        return cls(f"MT5 {action} failed: {description}", retcode=code)

    def connect(self) -> None:
        """Initialise the terminal link and log in (once; again after an IPC failure)."""
        if self._connected:
            return
        password = self._password_provider()
        if not password:
            raise ConfigurationError("the MT5 password environment variable is not set")
        options = {"login": self._login, "password": password, "server": self._server,
                   "timeout": self._timeout_ms}
        ok = (self._module.initialize(self._path, **options) if self._path
              else self._module.initialize(**options))
        if not ok:
            raise self._fail("initialize")
        self._connected = True

    def close(self) -> None:
        if self._connected:
            self._connected = False
            self._module.shutdown()

    def _select(self, symbol: str) -> None:
        if not self._module.symbol_select(symbol, True):
            raise self._fail(f"symbol_select({symbol})")

    def _closed(self, symbol: str, tf: timeframes.Timeframe, count: int) -> pd.DataFrame:
        rates = self._module.copy_rates_from_pos(symbol, tf.mt5_value, 0, count + 1)
        if rates is None:
            raise self._fail(f"copy_rates_from_pos({symbol}, {tf.name})")
        frame = rates_to_frame(rates, self._server_timezone).iloc[:-1]  # drop bar 0: forming
        step = tf.delta.value
        if len(frame) and (frame.index.as_unit("ns").asi8 % step).any():
            raise DataError(f"MT5 {tf.name} bars are not on the UTC grid: check "
                            "MT5_SERVER_TIMEZONE", column="time")
        return only_closed(frame, tf.name, self._clock())

    def latest_closed_bars(self, symbol: str, timeframe: str, count: int) -> pd.DataFrame:
        tf = timeframes.get(timeframe)
        count = validate_count(count)
        self.connect()
        self._select(symbol)
        if tf.minutes <= 60 or self._server_timezone in _UTC_NAMES:
            return self._closed(symbol, tf, count).tail(count)
        # A non-UTC server's H4/D1 bars open on ITS midnight; ours open on UTC's. Build them
        # from closed H1 bars: (count + 2) bins of at most `ratio` bars each are enough.
        hourly = timeframes.get("H1")
        ratio = tf.minutes // hourly.minutes
        wanted = min((count + 2) * ratio, MAX_BARS_PER_REQUEST - 1)
        frame = self._closed(symbol, hourly, wanted)
        if frame.empty:
            return frame
        return resample_bars(frame, tf.name, from_timeframe=hourly.name).tail(count)

    def symbol_info(self, symbol: str) -> InstrumentSpec:
        self.connect()
        self._select(symbol)
        info = self._module.symbol_info(symbol)
        if info is None:
            raise self._fail(f"symbol_info({symbol})")
        return InstrumentSpec(
            symbol=info.name or symbol, digits=int(info.digits), point=to_decimal(info.point),
            contract_size=to_decimal(info.trade_contract_size),
            tick_size=to_decimal(info.trade_tick_size),
            tick_value=to_decimal(info.trade_tick_value),
            volume_min=to_decimal(info.volume_min), volume_max=to_decimal(info.volume_max),
            volume_step=to_decimal(info.volume_step), currency_profit=info.currency_profit,
            description=info.description, stops_level=int(info.trade_stops_level),
            freeze_level=int(info.trade_freeze_level), filling_modes=int(info.filling_mode),
            swap_long=to_decimal(info.swap_long), swap_short=to_decimal(info.swap_short),
        )
