"""A simulator of the ``MetaTrader5`` module, fed from bars and a clock: market data here, the
trading functions (a simulated account, fault injection) in :mod:`trading.brokers.mt5sim_trade`.

Same call names, arguments, return shapes and failure style as the real module (pure: no
Django, no Windows):

- ``initialize`` / ``login`` / ``shutdown`` / ``version`` / ``last_error``;
- ``symbol_info`` (a ``SymbolInfo`` namedtuple with the real module's fields),
  ``symbol_info_tick``, ``symbol_select``, ``symbols_total``;
- ``copy_rates_from_pos``, ``copy_rates_from``, ``copy_rates_range``: numpy structured arrays
  with the real dtype (``time`` int64 seconds on the SERVER's wall clock, ``open``..``close``
  float64, ``tick_volume`` uint64, ``spread`` int32, ``real_volume`` uint64), oldest first.
  Position 0 is the CURRENT bar: while the clock is inside it, it is still forming (open as
  fed, close/high/low/volume only as far as the bar has run).
- Failures answer ``None`` (``False`` for bool calls) and set ``last_error()``; success sets
  ``(1, "Success")``. ``fail_next`` injects failures of any call; ``queue_fault`` scripts the
  answers of ``order_send`` (see :mod:`trading.brokers.mt5sim_trade`).

Timeframes not fed directly are built from the finest fed one (as the terminal builds every
timeframe from M1). Simulator choices where the real terminal is not documented: an unknown
symbol fails with ``RES_E_NOT_FOUND``; rates of a symbol not selected in Market Watch fail with
``RES_E_FAIL``; MT5 timeframes NusaTrade does not use (M2, H2, W1, MN1...) are unsupported.
"""

from __future__ import annotations

import calendar as std_calendar
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import numpy as np
import pandas as pd

from marketdata import calendar, timeframes
from marketdata.resample import aggregate_bins
from trading.brokers import mt5 as mt5_codes
from trading.brokers.base import InstrumentSpec, utc_now
from trading.brokers.mt5 import utc_to_server, validate_server_timezone
from trading.brokers.mt5_constants import CONSTANTS as TRADE_CONSTANTS
from trading.brokers.mt5sim_trade import TradingSimulator

TIMEFRAME_CONSTANTS: dict[str, int] = {
    "TIMEFRAME_M1": 1, "TIMEFRAME_M2": 2, "TIMEFRAME_M3": 3, "TIMEFRAME_M4": 4,
    "TIMEFRAME_M5": 5, "TIMEFRAME_M6": 6, "TIMEFRAME_M10": 10, "TIMEFRAME_M12": 12,
    "TIMEFRAME_M15": 15, "TIMEFRAME_M20": 20, "TIMEFRAME_M30": 30,
    "TIMEFRAME_H1": 16385, "TIMEFRAME_H2": 16386, "TIMEFRAME_H3": 16387, "TIMEFRAME_H4": 16388,
    "TIMEFRAME_H6": 16390, "TIMEFRAME_H8": 16392, "TIMEFRAME_H12": 16396,
    "TIMEFRAME_D1": 16408, "TIMEFRAME_W1": 32769, "TIMEFRAME_MN1": 49153,
}
RES_CONSTANTS: dict[str, int] = {
    name: getattr(mt5_codes, name) for name in dir(mt5_codes) if name.startswith("RES_")
}
_SUPPORTED = {tf.mt5_value: tf.name for tf in timeframes.TIMEFRAMES.values()}

RATES_DTYPE = np.dtype([
    ("time", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
    ("tick_volume", "<u8"), ("spread", "<i4"), ("real_volume", "<u8"),
])
_SYMBOL_INFO_TEXT = (
    "custom chart_mode select visible session_deals session_buy_orders session_sell_orders "
    "volume volumehigh volumelow time digits spread spread_float ticks_bookdepth "
    "trade_calc_mode trade_mode start_time expiration_time trade_stops_level "
    "trade_freeze_level trade_exemode swap_mode swap_rollover3days margin_hedged_use_leg "
    "expiration_mode filling_mode order_mode order_gtc_mode option_mode option_right bid "
    "bidhigh bidlow ask askhigh asklow last lasthigh lastlow volume_real volumehigh_real "
    "volumelow_real option_strike point trade_tick_value trade_tick_value_profit "
    "trade_tick_value_loss trade_tick_size trade_contract_size trade_accrued_interest "
    "trade_face_value trade_liquidity_rate volume_min volume_max volume_step volume_limit "
    "swap_long swap_short margin_initial margin_maintenance session_volume session_turnover "
    "session_interest session_buy_orders_volume session_sell_orders_volume session_open "
    "session_close session_aw session_price_settlement session_price_limit_min "
    "session_price_limit_max margin_hedged price_change price_volatility price_theoretical "
    "price_greeks_delta price_greeks_theta price_greeks_gamma price_greeks_vega "
    "price_greeks_rho price_greeks_omega price_sensitivity basis category currency_base "
    "currency_profit currency_margin bank description exchange formula isin name page path"
)
# The field order of the real module's SymbolInfo (MetaTrader5 5.0.4x).
SYMBOL_INFO_FIELDS = tuple(_SYMBOL_INFO_TEXT.split())
SymbolInfo = namedtuple("SymbolInfo", SYMBOL_INFO_FIELDS)
Tick = namedtuple("Tick", "time bid ask last volume time_msc flags volume_real")
_TEXT_FIELDS = {"basis", "category", "currency_base", "currency_profit", "currency_margin",
                "bank", "description", "exchange", "formula", "isin", "name", "page", "path"}
_BOOL_FIELDS = {"custom", "select", "visible", "spread_float", "margin_hedged_use_leg"}

XAUUSD_SPEC = InstrumentSpec(
    symbol="XAUUSD", digits=2, point=Decimal("0.01"), contract_size=Decimal("100"),
    tick_size=Decimal("0.01"), tick_value=Decimal("1"), volume_min=Decimal("0.01"),
    volume_max=Decimal("100"), volume_step=Decimal("0.01"), description="Gold vs US Dollar",
)
_NOT_CONNECTED = (mt5_codes.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
_INVALID = (mt5_codes.RES_E_INVALID_PARAMS, "Terminal: Invalid params")
_CALL_FAILED = (mt5_codes.RES_E_FAIL, "Terminal: Call failed")
_SUCCESS = (mt5_codes.RES_S_OK, "Success")
_T = TypeVar("_T")


@dataclass
class _Symbol:
    spec: InstrumentSpec
    feeds: dict[str, pd.DataFrame]
    selected: bool = False
    arrays: dict[str, _Arrays] = field(default_factory=dict)

    def bars(self, timeframe: str) -> _Arrays:
        """The feed as numpy arrays (built once: the order path reads quotes many times)."""
        if timeframe not in self.arrays:
            feed = self.feeds[timeframe]
            spread = (feed["spread"].fillna(0).to_numpy(dtype="float64") if "spread" in feed
                      else np.zeros(len(feed)))
            self.arrays[timeframe] = _Arrays(
                feed.index.as_unit("ns").asi8, feed["open"].to_numpy(dtype="float64"),
                feed["high"].to_numpy(dtype="float64"), feed["low"].to_numpy(dtype="float64"),
                feed["close"].to_numpy(dtype="float64"), spread,
                timeframes.get(timeframe).delta.value)
        return self.arrays[timeframe]


@dataclass(frozen=True)
class _Arrays:
    time: np.ndarray        # int64 ns, UTC open times
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    spread: np.ndarray      # points
    step: int               # the timeframe in ns

    def bar(self, i: int, now_ns: int, digits: int) -> tuple[float, float, float, float, bool]:
        """(open, high, low, close, complete) of bar ``i`` as it stands at ``now_ns``."""
        values = (float(self.open[i]), float(self.high[i]), float(self.low[i]),
                  float(self.close[i]))
        if now_ns >= self.time[i] + self.step:
            return (*values, True)
        fraction = float(now_ns - self.time[i]) / self.step
        return (*forming_values(*values, fraction, digits), False)


@dataclass
class _Fault:
    code: int
    description: str
    remaining: int


@dataclass
class _State:
    initialized: bool = False
    login: int | None = None
    error: tuple[int, str] = _SUCCESS
    faults: dict[str, _Fault] = field(default_factory=dict)


def forming_values(bar_open: float, high: float, low: float, close: float, fraction: float,
                   digits: int) -> tuple[float, float, float, float]:
    """(open, high, low, close) of a bar ``fraction`` of the way through: open as fed, the
    close moved linearly from it, the extremes grown in proportion."""
    now = bar_open + (close - bar_open) * fraction
    top, bottom = max(bar_open, close), min(bar_open, close)
    return (bar_open, round(max(bar_open, now) + (high - top) * fraction, digits),
            round(min(bar_open, now) - (bottom - low) * fraction, digits), round(now, digits))


def _forming(row: pd.Series, fraction: float, digits: int) -> pd.Series:
    """How a bar looks ``fraction`` of the way through: open as fed, the rest partial."""
    out = row.copy()
    _open, out["high"], out["low"], out["close"] = forming_values(
        row["open"], row["high"], row["low"], row["close"], fraction, digits)
    out["volume"] = max(1.0, float(np.floor(row["volume"] * fraction)))
    return out


class MT5Simulator(TradingSimulator):
    """One simulated terminal. Feed it with :meth:`add_symbol`, move time with :meth:`set_time`.

    Module-like: ``sim.TIMEFRAME_H1``, ``sim.RES_E_FAIL``, ``sim.ORDER_TYPE_BUY``,
    ``sim.TRADE_RETCODE_DONE``... are the real constants. The account starts with ``balance``
    in ``currency`` at 1:``leverage``.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None, *,
                 server_timezone: str = "UTC",
                 accounts: Mapping[int, tuple[str, str]] | None = None,
                 max_bars: int = 100_000, build: int = 4755,
                 balance: Decimal | str = Decimal("10000.00"), leverage: int = 100,
                 currency: str = "USD") -> None:
        self._clock = clock or utc_now
        self.server_timezone = validate_server_timezone(server_timezone)
        self._accounts = dict(accounts or {})
        self._max_bars = max_bars
        self._build = build
        self._symbols: dict[str, _Symbol] = {}
        self._state = _State()
        self.calls: list[str] = []  # names of API calls, in order (for tests)
        self._init_trading(balance=balance, leverage=leverage, currency=currency)

    # --- test controls ---------------------------------------------------------------------
    def set_time(self, when: datetime | str) -> None:
        fixed = pd.Timestamp(when)
        fixed = fixed.tz_localize("UTC") if fixed.tz is None else fixed.tz_convert("UTC")
        self._clock = lambda: fixed.to_pydatetime()

    def now(self) -> pd.Timestamp:
        return pd.Timestamp(self._clock()).tz_convert("UTC")

    def add_symbol(self, name: str, bars: pd.DataFrame | Mapping[str, pd.DataFrame], *,
                   timeframe: str = "H1", spec: InstrumentSpec | None = None) -> None:
        """Feed ``name`` with bars (one frame at ``timeframe``, or {timeframe: frame})."""
        feeds = dict(bars) if isinstance(bars, Mapping) else {timeframe: bars}
        feeds = {timeframes.get(tf).name: frame.sort_index() for tf, frame in feeds.items()}
        base = spec or XAUUSD_SPEC
        self._symbols[name] = _Symbol(spec=InstrumentSpec(**{**base.__dict__, "symbol": name}),
                                      feeds=feeds)

    def fail_next(self, function: str, code: int = mt5_codes.RES_E_INTERNAL_FAIL_TIMEOUT,
                  description: str = "Terminal: IPC timeout", times: int = 1) -> None:
        """Make the next ``times`` calls of ``function`` fail with ``(code, description)``."""
        self._state.faults[function] = _Fault(code, description, times)

    # --- plumbing ---------------------------------------------------------------------------
    def _enter(self, function: str, *, needs_connection: bool = True) -> bool:
        """Record the call; False (with last_error set) when it must fail."""
        self.calls.append(function)
        fault = self._state.faults.get(function)
        if fault and fault.remaining > 0:
            fault.remaining -= 1
            self._state.error = (fault.code, fault.description)
            return False
        if needs_connection and not self._state.initialized:
            self._state.error = _NOT_CONNECTED
            return False
        return True

    def _error(self, error: tuple[int, str]) -> None:
        self._state.error = error
        return None

    def _ok(self, value: _T) -> _T:
        self._state.error = _SUCCESS
        return value

    def _symbol(self, name: str) -> _Symbol | None:
        symbol = self._symbols.get(name)
        if symbol is None:
            self._state.error = (mt5_codes.RES_E_NOT_FOUND, "Terminal: Not found")
        return symbol

    # --- session ----------------------------------------------------------------------------
    def initialize(self, path: str | None = None, *, login: int | None = None,
                   password: str | None = None, server: str | None = None,
                   timeout: int | None = None, portable: bool = False) -> bool:
        if not self._enter("initialize", needs_connection=False):
            return False
        if login is not None and not self._authorised(login, password, server):
            self._state.error = (mt5_codes.RES_E_AUTH_FAILED, "Terminal: Authorization failed")
            return False
        self._state.initialized = True
        self._state.login = login
        return self._ok(True)

    def _authorised(self, login: int, password: str | None, server: str | None) -> bool:
        if not self._accounts:
            return True
        return self._accounts.get(int(login)) == (password, server)

    def login(self, login: int, password: str | None = None, server: str | None = None,
              timeout: int | None = None) -> bool:
        if not self._enter("login"):
            return False
        if not self._authorised(login, password, server):
            self._state.error = (mt5_codes.RES_E_AUTH_FAILED, "Terminal: Authorization failed")
            return False
        self._state.login = login
        return self._ok(True)

    def shutdown(self) -> None:
        self.calls.append("shutdown")
        self._state.initialized = False
        self._state.login = None

    def version(self) -> tuple[int, int, str] | None:
        if not self._enter("version"):
            return None
        return self._ok((500, self._build, "20 Mar 2025"))

    def last_error(self) -> tuple[int, str]:
        return self._state.error

    # --- symbols ----------------------------------------------------------------------------
    def symbols_total(self) -> int:
        if not self._enter("symbols_total"):
            return 0
        return self._ok(len(self._symbols))

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        if not self._enter("symbol_select"):
            return False
        entry = self._symbol(symbol)
        if entry is None:
            return False
        entry.selected = bool(enable)
        return self._ok(True)

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        if not self._enter("symbol_info"):
            return None
        entry = self._symbol(symbol)
        if entry is None:
            return None
        return self._ok(self._info(symbol, entry))

    def _info(self, name: str, entry: _Symbol) -> SymbolInfo:
        values = {f: "" if f in _TEXT_FIELDS else False if f in _BOOL_FIELDS else 0
                  for f in SYMBOL_INFO_FIELDS}
        spec = entry.spec
        tick = self._tick(entry)
        values.update(
            name=name, description=spec.description, path=f"Simulated\\{name}",
            select=entry.selected, visible=entry.selected, digits=spec.digits,
            point=float(spec.point), trade_contract_size=float(spec.contract_size),
            trade_tick_size=float(spec.tick_size), trade_tick_value=float(spec.tick_value),
            trade_tick_value_profit=float(spec.tick_value),
            trade_tick_value_loss=float(spec.tick_value), volume_min=float(spec.volume_min),
            volume_max=float(spec.volume_max), volume_step=float(spec.volume_step),
            currency_base=name[:3], currency_profit=spec.currency_profit,
            currency_margin=name[:3], spread_float=True, trade_mode=4, trade_exemode=2,
            filling_mode=spec.filling_modes, order_mode=127, expiration_mode=15,
            swap_rollover3days=3, trade_stops_level=spec.stops_level,
            trade_freeze_level=spec.freeze_level, swap_long=float(spec.swap_long),
            swap_short=float(spec.swap_short),
        )
        if tick is not None:
            values.update(time=tick.time, bid=tick.bid, ask=tick.ask,
                          spread=round((tick.ask - tick.bid) / float(spec.point)))
        return SymbolInfo(**values)

    def symbol_info_tick(self, symbol: str) -> Tick | None:
        if not self._enter("symbol_info_tick"):
            return None
        entry = self._symbol(symbol)
        if entry is None:
            return None
        tick = self._tick(entry)
        return self._error(_CALL_FAILED) if tick is None else self._ok(tick)

    def _tick(self, entry: _Symbol) -> Tick | None:
        """The quote now: the current bar's close as formed so far (plus any scripted quote
        shift); after the last fed bar, that bar's close. Hot path of every order: numpy
        arrays, no frame access."""
        bars = entry.bars(_finest(entry))
        now_ns = self.now().value
        index = int(np.searchsorted(bars.time, now_ns, side="right")) - 1
        if index < 0:
            return None
        digits = entry.spec.digits
        close = bars.bar(index, now_ns, digits)[3]
        when_ns = min(now_ns, int(bars.time[index]) + bars.step - 1_000_000_000)
        seconds = self._server_seconds_of(when_ns)
        spread = float(bars.spread[index]) * float(entry.spec.point)
        shift = float(self._shifts.get(entry.spec.symbol, 0))
        bid = float(round(close + shift, digits))        # plain floats, as the real module
        return Tick(time=int(seconds), bid=bid, ask=float(round(bid + spread, digits)), last=0.0,
                    volume=0, time_msc=seconds * 1000, flags=6, volume_real=0.0)

    def _server_seconds_of(self, utc_ns: int) -> int:
        if self.server_timezone in ("", "UTC", "Etc/UTC", "GMT"):
            return utc_ns // 1_000_000_000
        return int(utc_to_server(pd.DatetimeIndex([utc_ns], tz="UTC"), self.server_timezone)[0])

    # --- rates ------------------------------------------------------------------------------
    def _feed_now(self, entry: _Symbol, timeframe: str) -> pd.DataFrame:
        """A fed timeframe's bars opened at or before now (UTC index), the current one only as
        far as it has formed."""
        now = self.now()
        delta = timeframes.get(timeframe).delta
        feed = entry.feeds[timeframe]
        bars = feed.iloc[: int(feed.index.searchsorted(now, side="right"))]
        if len(bars) and now < bars.index[-1] + delta:
            bars = bars.copy()
            fraction = (now - bars.index[-1]) / delta
            bars.iloc[-1] = _forming(bars.iloc[-1], fraction, entry.spec.digits)
        return bars

    def _server_bars(self, entry: _Symbol, timeframe: str) -> pd.DataFrame:
        """Bars as the terminal holds them: indexed by the SERVER wall clock (labelled UTC).
        Timeframes not fed are built from the finest feed on server-clock boundaries, as the
        terminal does (a GMT+2 server's D1 bar opens at 22:00 UTC)."""
        fed = timeframe in entry.feeds
        bars = self._feed_now(entry, timeframe if fed else _finest(entry))
        seconds = utc_to_server(bars.index, self.server_timezone)
        bars = bars.set_axis(calendar.utc_index(seconds * 1_000_000_000))
        return bars if fed or bars.empty else aggregate_bins(bars, timeframe)

    def _rates(self, symbol: str, timeframe: int) -> np.ndarray | None:
        """All bars the terminal would hold for (symbol, timeframe), or None with the error."""
        entry = self._symbol(symbol)
        if entry is None:
            return None
        if not isinstance(timeframe, int) or timeframe not in TIMEFRAME_CONSTANTS.values():
            return self._error(_INVALID)
        name = _SUPPORTED.get(timeframe)
        if name is None:
            return self._error((mt5_codes.RES_E_UNSUPPORTED, "Terminal: Unsupported"))
        finest = timeframes.get(_finest(entry)).minutes
        if not entry.selected or timeframes.get(name).minutes < finest:
            return self._error(_CALL_FAILED)
        bars = self._server_bars(entry, name).tail(self._max_bars)
        out = np.zeros(len(bars), dtype=RATES_DTYPE)
        out["time"] = bars.index.as_unit("s").asi8
        for column in ("open", "high", "low", "close"):
            out[column] = bars[column].to_numpy()
        out["tick_volume"] = bars["volume"].to_numpy().astype("uint64")
        if "spread" in bars:
            out["spread"] = bars["spread"].fillna(0).to_numpy().astype("int32")
        return out

    def copy_rates_from_pos(self, symbol: str, timeframe: int, start_pos: int,
                            count: int) -> np.ndarray | None:
        if not self._enter("copy_rates_from_pos"):
            return None
        if not all(isinstance(v, int) for v in (start_pos, count)) or start_pos < 0 or count < 1:
            return self._error(_INVALID)
        rates = self._rates(symbol, timeframe)
        if rates is None:
            return None
        if start_pos >= len(rates):
            return self._error(_CALL_FAILED)
        end = len(rates) - start_pos
        return self._ok(rates[max(0, end - count):end])

    def copy_rates_from(self, symbol: str, timeframe: int, date_from: datetime | int,
                        count: int) -> np.ndarray | None:
        if not self._enter("copy_rates_from"):
            return None
        rates = self._rates(symbol, timeframe)
        if rates is None:
            return None
        end = int(np.searchsorted(rates["time"], _seconds(date_from), side="right"))
        return self._ok(rates[max(0, end - int(count)):end])

    def copy_rates_range(self, symbol: str, timeframe: int, date_from: datetime | int,
                         date_to: datetime | int) -> np.ndarray | None:
        if not self._enter("copy_rates_range"):
            return None
        rates = self._rates(symbol, timeframe)
        if rates is None:
            return None
        start = np.searchsorted(rates["time"], _seconds(date_from), side="left")
        end = np.searchsorted(rates["time"], _seconds(date_to), side="right")
        return self._ok(rates[start:end])


def _finest(entry: _Symbol) -> str:
    return min(entry.feeds, key=lambda name: timeframes.get(name).minutes)


def _seconds(value: datetime | int) -> int:
    """A date argument as the terminal compares it: its wall-clock reading as epoch seconds
    (timezone-aware values are read in UTC, naive ones as they are)."""
    if isinstance(value, int):
        return value
    stamp = pd.Timestamp(value)
    if stamp.tz is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return std_calendar.timegm(stamp.timetuple())


for _name, _value in {**TIMEFRAME_CONSTANTS, **RES_CONSTANTS, **TRADE_CONSTANTS}.items():
    setattr(MT5Simulator, _name, _value)
