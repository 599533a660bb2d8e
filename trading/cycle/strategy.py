"""The strategy arithmetic the live cycle shares with the backtester (pure: no Django).

Every function here is the live twin of one step of ``backtests.engine.kernel`` and computes
the same numbers the same way (floats where the kernel uses floats, the same rounding), so a
replay lists the same trades as ``backtest --account`` to the cent:

- :func:`fill_time`: THE live fill shift (the kernel's ``fill_bar``);
- :func:`close_decision`: the kernel's own ``_close_decision`` (time and opposite-signal
  exits, reversals), called, not copied;
- :func:`atr_at_signal`: TA-Lib's Wilder ATR at the signal bar (the kernel's ``atr[j]``);
- :func:`entry_levels`: SL/TP prices from the expected fill and the signal bar's ATR
  (the kernel's ``_queue_entry`` + ``_open_position``);
- :func:`entry_lots`: fixed lots or risk-per-trade sizing (the kernel's ``_entry_lots``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from marketdata import timeframes
from trading.risk.sizing import lots_for_risk

# Wilder's ATR is recursive: its value at a bar depends (with weight (1 - 1/period)^k) on
# the bar k steps before the window starts. With 600 bars before the signal bar that weight
# is below 1e-19 for ATR(14): the live window's ATR equals the backtest's to float precision,
# whatever the window's first bar. (Both also agree exactly when both start at the first
# stored bar.)
ATR_WARMUP_BARS = 600

# The kernel's exit reasons, as replay and ``backtest --json`` list them.
TIME_EXIT = "time"
OPPOSITE_EXIT = "opposite_signal"
END_OF_DATA = "end_of_data"
EXIT_CODES = {3: TIME_EXIT, 4: OPPOSITE_EXIT}


def fill_time(decision_bar: datetime | pd.Timestamp, timeframe: str) -> datetime:
    """THE live fill shift: a decision taken on bar ``t`` (its open time) is known at the
    bar's close, ``t + timeframe``, and fills at that instant, which is the open of bar
    ``t + 1`` (a bar's time is its open time). Nothing of bar ``t + 1`` but its open is known
    then. The backtester's twin is ``backtests.engine.kernel.fill_bar`` (index ``t + 1``);
    the paper broker prices an order at the clock as the open of the bar containing it, so
    a cycle run at :func:`fill_time` fills exactly where the backtest does."""
    stamp = pd.Timestamp(decision_bar)
    return (stamp + timeframes.get(timeframe).delta).to_pydatetime()


def close_decision(side: int, signal: int, bars_held_at_fill: int, exit_on_opposite: bool,
                   max_bars_held: int | None) -> tuple[str | None, bool]:
    """(exit reason or None, whether the signal opens a position) at a bar's close, by the
    kernel's own rule (a same-direction signal is ignored while a position is open; an
    opposite one exits and reverses when ``exit_on_opposite``; else the time exit)."""
    from backtests.engine.kernel import _close_decision

    code, enter = _close_decision.py_func(side, signal, bars_held_at_fill, exit_on_opposite,
                                          max_bars_held or 0)
    return EXIT_CODES.get(int(code)), bool(enter)


def bars_held_at_fill(bar_times: pd.DatetimeIndex, entry_time: datetime,
                      timeframe: str) -> int:
    """Bars from the entry bar to the bar the next fill happens at, counted on the bars that
    exist (weekends and holidays have none), as the kernel's ``fill_bar(j) - entry_bar``.
    ``bar_times``: the closed bars up to the signal bar (the last one)."""
    entry_bar = pd.Timestamp(entry_time).floor(timeframes.get(timeframe).delta)
    entry_index = int(bar_times.searchsorted(entry_bar, side="left"))
    return len(bar_times) - entry_index


def atr_at_signal(bars: pd.DataFrame, period: int) -> float:
    """ATR(``period``) (TA-Lib, Wilder) at the last bar of ``bars``; NaN while warming up."""
    import talib

    if len(bars) <= period:
        return math.nan
    high, low, close = (bars[c].to_numpy(np.float64) for c in ("high", "low", "close"))
    return float(talib.ATR(high, low, close, timeperiod=period)[-1])


@dataclass(frozen=True)
class EntryLevels:
    sl: Decimal | None
    tp: Decimal | None
    sl_distance: float
    expected_fill: float


def _on_grid(price: float, digits: int | None) -> float:
    if digits is None:
        return price
    scale = 10.0 ** digits
    return float(np.rint(price * scale) / scale)


def entry_levels(side: int, bid: Decimal, ask: Decimal, slippage: float, atr: float,
                 sl_atr: float | None, tp_atr: float | None, digits: int | None) -> EntryLevels:
    """SL/TP prices of an entry filling at the quote (``bid``/``ask``) plus ``slippage``
    against us, ``sl_atr``/``tp_atr`` times the signal bar's ``atr`` away (as the kernel:
    ``fill = bid + spread + slippage`` for a BUY, ``bid - slippage`` for a SELL, levels on
    the quote grid)."""
    bid_f = float(bid)
    fill = bid_f + float(ask - bid) + slippage if side == 1 else bid_f - slippage
    sl_distance = math.nan if sl_atr is None else sl_atr * atr
    tp_distance = math.nan if tp_atr is None else tp_atr * atr

    def level(distance: float, sign: int) -> Decimal | None:
        if math.isnan(distance):
            return None
        price = _on_grid(fill + sign * side * distance, digits)
        return Decimal(repr(price)).quantize(Decimal(1).scaleb(-digits)) if digits is not None \
            else Decimal(repr(price))

    return EntryLevels(level(sl_distance, -1), level(tp_distance, 1), sl_distance, fill)


def entry_lots(lots: Decimal, risk_per_trade_pct: Decimal | None, balance: Decimal,
               sl_distance: float, value_per_price_unit: Decimal, volume_step: Decimal,
               volume_min: Decimal, volume_max: Decimal) -> Decimal:
    """Fixed ``lots``, or the lots whose stop-loss loses ``risk_per_trade_pct`` of the
    balance (``trading.risk.lots_for_risk``, the kernel's function); 0 when too small."""
    if risk_per_trade_pct is None:
        return lots
    volume = lots_for_risk(float(balance), float(risk_per_trade_pct), sl_distance,
                           float(value_per_price_unit), float(volume_step), float(volume_min),
                           float(volume_max))
    return Decimal(repr(volume)).quantize(volume_step) if volume > 0 else Decimal("0")
