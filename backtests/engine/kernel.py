"""The compiled bar loop (hot path): fills, stops and exits, bar by bar, in numba.

One resumable state machine walks the bars in order. Per bar ``j``:

1. at the open: execute what was decided at the close of ``j - 1`` (an exit, then an entry);
   before an entry it may *pause* and hand the decision to Python (the shared risk rules);
2. during the bar: stop-loss / take-profit / stop-out of the open position, by the shared
   rule :func:`trading.fills.first_touch` (a gap beyond a level fills at the open, TP gap
   first; otherwise SL first when both touch);
3. at the close: decide time and opposite-signal exits and new entries, to fill at
   :func:`fill_bar` ``(j)``.

Everything lives in flat arrays indexed by the named constants below, so a pause costs
nothing and Python can read and answer between calls. With ``pause`` off (no risk rules) one
call runs the whole backtest.

Prices: bars are bid prices; ask = bid + spread. A BUY opens at the ask and closes at the bid;
a SELL opens at the bid and closes at the ask; slippage is added against us on every fill.
A BUY's stops trigger on the bid, a SELL's on the ask (as MetaTrader does).

Margin (as the paper broker): an entry needs ``lots x contract x price / leverage`` of margin
and is skipped when that exceeds the balance (free margin would be negative). While a
position is open, the broker's stop-out closes it when the margin level (equity / margin x
100) falls below ``stop_out_level``; with one position whose margin is fixed at entry, that
is a price level computed once at the entry (:func:`_stop_out_price`) and treated like a
stop-loss, so gaps through it fill at the open.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from trading.fills import first_touch
from trading.pnl import margin_float, profit_float
from trading.risk.sizing import lots_for_risk

Arr = np.ndarray

# The very same functions as the live engine's, compiled: one source of truth for money/size.
_profit = njit(cache=True)(profit_float)
_lots_for_risk = njit(cache=True)(lots_for_risk)
_first_touch_bar = njit(cache=True)(first_touch)
_margin = njit(cache=True)(margin_float)

# Events the kernel returns.
EV_DONE, EV_ENTRY = 0, 1
# Phases of a bar (where a paused run resumes).
PH_OPEN, PH_ANSWER, PH_BAR = 0, 1, 2
# Exit reasons.
R_STOP_LOSS, R_TAKE_PROFIT, R_TIME, R_OPPOSITE, R_END, R_STOP_OUT = 1, 2, 3, 4, 5, 6
EXIT_REASONS = ("", "stop_loss", "take_profit", "time", "opposite_signal", "end_of_data",
                "stop_out")

# Integer state.
(S_BAR, S_PHASE, S_SIDE, S_ENTRY_BAR, S_SIGNAL_BAR, S_EXIT_REASON, S_EXIT_BAR, S_PEND_SIDE,
 S_PEND_BAR, S_PEND_SIGNAL_BAR, S_NTRADES, S_BLOCKED_UNTIL, S_ANSWER, S_SKIP_NO_ATR,
 S_SKIP_VOLUME, S_SKIP_BLOCKED, S_BOTH_TOUCHED, S_RESOLVED, S_SKIP_MARGIN, S_SIZE) = range(20)
# Float state.
# F_STOP: the level that closes a loser, the tighter of the SL and the stop-out price.
(F_BALANCE, F_ENTRY_PRICE, F_ENTRY_BID, F_ENTRY_SPREAD, F_SL, F_TP, F_LOTS, F_PEND_SL_DIST,
 F_PEND_TP_DIST, F_PEND_LOTS, F_STOP, F_STOP_OUT, F_SIZE) = range(13)
# Float parameters (NaN: not used).
(P_SLIPPAGE, P_SL_ATR, P_TP_ATR, P_SL_DIST, P_TP_DIST, P_LOTS, P_RISK_PCT, P_VPU,
 P_COMMISSION, P_SWAP_LONG, P_SWAP_SHORT, P_PRICE_SCALE, P_VOL_STEP, P_VOL_MIN, P_VOL_MAX,
 P_LEVERAGE, P_STOP_OUT, P_SIZE) = range(18)
# Integer parameters.
I_MAX_BARS, I_EXIT_OPPOSITE, I_PAUSE, I_SIZE = range(4)
# Trade table columns: integers, then floats.
(T_ENTRY_BAR, T_EXIT_BAR, T_SIDE, T_REASON, T_SIGNAL_BAR, T_NIGHTS, T_SIZE) = range(7)
(U_ENTRY_PRICE, U_EXIT_PRICE, U_LOTS, U_SL, U_TP, U_GROSS, U_SPREAD_COST, U_SLIP_COST,
 U_COMMISSION, U_SWAP, U_NET, U_BALANCE, U_SIZE) = range(13)


@njit(cache=True)
def fill_bar(decision_bar: int) -> int:
    """THE one shift: a decision taken at the close of bar ``t`` fills at the open of bar
    ``t + 1`` (nothing of bar ``t + 1`` is known when deciding). Entries, opposite-signal exits
    and time exits all go through here; only stop/limit orders fill inside a bar."""
    return decision_bar + 1


@njit(cache=True, inline="always")
def _cents(amount: float) -> float:
    return np.rint(amount * 100.0) / 100.0 + 0.0  # + 0.0 turns -0.0 into 0.0


@njit(cache=True, inline="always")
def _on_grid(price: float, scale: float) -> float:
    # Brokers accept SL/TP on the quote grid only; scale = 10 ** digits, 0 = no rounding.
    return price if scale == 0.0 else np.rint(price * scale) / scale


@njit(cache=True)
def run(ohlc: Arr, spread: Arr, sig: Arr, atr: Arr, days: Arr, fine: Arr, fine_range: Arr,
        p: Arr, ip: Arr, st: Arr, fs: Arr, ti: Arr, tf: Arr) -> int:
    """Advance the backtest from ``st[S_BAR]``; return ``EV_ENTRY`` when an entry waits for
    Python's answer (``st[S_ANSWER]``: 1 open, 0 drop), ``EV_DONE`` at the end of the data.

    ``fine``: optional lower-timeframe bars (m, 4) and ``fine_range`` (n, 2) the slice of
    them inside each bar (empty arrays: none), used only when a bar touches both SL and TP.

    Performance: the per-bar path reads scalars only; helpers that take arrays run only when
    something happens (an order, a stop hit, a signal), because every call passing arrays
    costs numba reference counting, which would dominate a bar's work.
    """
    n = ohlc.shape[0]
    exit_opposite, max_bars = ip[I_EXIT_OPPOSITE] == 1, ip[I_MAX_BARS]
    j = st[S_BAR]
    while j < n:
        if st[S_PHASE] == PH_OPEN:  # 1. the open: orders decided at the previous close
            st[S_PHASE] = PH_BAR
            if (st[S_EXIT_REASON] != 0 or st[S_PEND_SIDE] != 0) and _at_open(
                    j, ohlc, spread, days, p, ip, st, fs, ti, tf):
                st[S_BAR] = j
                return EV_ENTRY
        if st[S_PHASE] == PH_ANSWER:
            _answered(j, ohlc, spread, p, st, fs)
        side = st[S_SIDE]  # 2. inside the bar: stop-loss and take-profit
        if side != 0 and _touched(side, ohlc[j, 0], ohlc[j, 1], ohlc[j, 2], spread[j],
                                  fs[F_STOP], fs[F_TP]):
            _stop_exit(j, ohlc, spread, fine, fine_range, days, p, st, fs, ti, tf)
        if fill_bar(j) < n:  # 3. the close: decisions that fill at fill_bar(j)
            reason, enter = _close_decision(st[S_SIDE], sig[j], fill_bar(j) - st[S_ENTRY_BAR],
                                            exit_opposite, max_bars)
            if reason != 0:
                st[S_EXIT_REASON] = reason
                st[S_EXIT_BAR] = fill_bar(j)
            if enter and fill_bar(j) < st[S_BLOCKED_UNTIL]:
                st[S_SKIP_BLOCKED] += 1  # a halt or limit known to last: no request at all
            elif enter:
                _queue_entry(j, sig[j], atr, p, st, fs)
        j += 1
        st[S_PHASE] = PH_OPEN
    st[S_BAR] = n
    if st[S_SIDE] != 0:
        _close_at_end(n - 1, ohlc, spread, days, p, st, fs, ti, tf)
    return EV_DONE


@njit(cache=True, inline="always")
def _answered(j: int, ohlc: Arr, spread: Arr, p: Arr, st: Arr, fs: Arr) -> None:
    if st[S_ANSWER] == 1:
        _open_position(j, ohlc, spread, p, st, fs)
    st[S_PEND_SIDE] = 0
    st[S_PHASE] = PH_BAR


@njit(cache=True, inline="always")
def _at_open(j: int, ohlc: Arr, spread: Arr, days: Arr, p: Arr, ip: Arr, st: Arr, fs: Arr,
             ti: Arr, tf: Arr) -> bool:
    """Run the orders due at bar ``j``'s open; True when Python must answer an entry."""
    if st[S_EXIT_REASON] != 0 and st[S_EXIT_BAR] == j:
        _exit_at_open(j, ohlc, spread, days, p, st, fs, ti, tf)
    if st[S_PEND_SIDE] == 0 or st[S_PEND_BAR] != j:
        return False
    lots = _entry_lots(p, fs)
    if lots <= 0.0:
        st[S_SKIP_VOLUME] += 1
        st[S_PEND_SIDE] = 0
        return False
    if not _margin_allows(lots, ohlc[j, 0], p, fs):
        st[S_SKIP_MARGIN] += 1
        st[S_PEND_SIDE] = 0
        return False
    if j < st[S_BLOCKED_UNTIL]:
        st[S_SKIP_BLOCKED] += 1
        st[S_PEND_SIDE] = 0
        return False
    fs[F_PEND_LOTS] = lots
    st[S_PHASE] = PH_ANSWER
    if ip[I_PAUSE] == 1:
        return True
    st[S_ANSWER] = 1
    return False


@njit(cache=True, inline="always")
def _entry_lots(p: Arr, fs: Arr) -> float:
    if math.isnan(p[P_RISK_PCT]):
        return p[P_LOTS]
    return _lots_for_risk(fs[F_BALANCE], p[P_RISK_PCT], fs[F_PEND_SL_DIST], p[P_VPU],
                          p[P_VOL_STEP], p[P_VOL_MIN], p[P_VOL_MAX])


@njit(cache=True, inline="always")
def _margin_allows(lots: float, price: float, p: Arr, fs: Arr) -> bool:
    """Free margin after the entry is not negative (MT5 refuses "no money" otherwise); with
    no position open the equity is the balance. NaN leverage: margin not modelled."""
    if math.isnan(p[P_LEVERAGE]):
        return True
    return _margin(lots, price, p[P_VPU], p[P_LEVERAGE]) <= fs[F_BALANCE]


@njit(cache=True, inline="always")
def _stop_out_price(side: int, fill: float, lots: float, p: Arr, fs: Arr) -> float:
    """The exit-side price (bid for a long, ask for a short) at which the margin level
    reaches ``stop_out_level``: balance + P/L(price) - commission = level% x margin, with the
    margin fixed at the entry (swap accrual and exit slippage are left out). NaN: off."""
    if math.isnan(p[P_LEVERAGE]) or math.isnan(p[P_STOP_OUT]):
        return np.nan
    margin = _margin(lots, fill, p[P_VPU], p[P_LEVERAGE])
    floor = p[P_STOP_OUT] / 100.0 * margin + p[P_COMMISSION] * lots - fs[F_BALANCE]
    return fill + side * floor / (p[P_VPU] * lots)


@njit(cache=True, inline="always")
def _tighter_stop(side: int, sl: float, stop_out: float) -> float:
    """The level hit first by a loser: the higher of the two for a long, the lower for a
    short; NaN levels are ignored."""
    if math.isnan(stop_out):
        return sl
    if math.isnan(sl):
        return stop_out
    return max(sl, stop_out) if side == 1 else min(sl, stop_out)


@njit(cache=True, inline="always")
def _open_position(j: int, ohlc: Arr, spread: Arr, p: Arr, st: Arr, fs: Arr) -> None:
    side = st[S_PEND_SIDE]
    bid = ohlc[j, 0]
    fill = bid + spread[j] + p[P_SLIPPAGE] if side == 1 else bid - p[P_SLIPPAGE]
    scale = p[P_PRICE_SCALE]
    # NaN distances (no SL/TP) give NaN levels, which no price comparison ever triggers.
    fs[F_SL] = _on_grid(fill - side * fs[F_PEND_SL_DIST], scale)
    fs[F_TP] = _on_grid(fill + side * fs[F_PEND_TP_DIST], scale)
    fs[F_STOP_OUT] = _stop_out_price(side, fill, fs[F_PEND_LOTS], p, fs)
    fs[F_STOP] = _tighter_stop(side, fs[F_SL], fs[F_STOP_OUT])
    fs[F_ENTRY_PRICE] = fill
    fs[F_ENTRY_BID] = bid
    fs[F_ENTRY_SPREAD] = spread[j]
    fs[F_LOTS] = fs[F_PEND_LOTS]
    st[S_SIDE] = side
    st[S_ENTRY_BAR] = j
    st[S_SIGNAL_BAR] = st[S_PEND_SIGNAL_BAR]


@njit(cache=True, inline="always")
def _touched(side: int, bar_open: float, high: float, low: float, spread: float, stop: float,
             tp: float) -> bool:
    """Does a bar reach the stop or the TP (bid for a long, ask for a short)? NaN: never."""
    reason, _, _ = _first_touch_bar(side, bar_open, high, low, spread, stop, tp)
    return reason != 0


@njit(cache=True, inline="always")
def _first_touch(bars: Arr, start: int, end: int, side: int, spread: float, sl: float,
                 tp: float) -> tuple[int, float, bool]:
    """The first of ``bars[start:end]`` reaching a level: (exit reason, bid-side exit price,
    whether that bar touched both), or (0, NaN, False). Each bar goes through the shared
    rule :func:`trading.fills.first_touch` (the paper broker's): a gap beyond a level fills at
    the open (TP gap first), else the SL first when the bar touches both."""
    for f in range(start, end):
        reason, price, both = _first_touch_bar(side, bars[f, 0], bars[f, 1], bars[f, 2],
                                               spread, sl, tp)
        if reason != 0:
            return reason, price, both
    return 0, np.nan, False


@njit(cache=True, inline="always")
def _stop_exit(j: int, ohlc: Arr, spread: Arr, fine: Arr, fine_range: Arr, days: Arr, p: Arr,
               st: Arr, fs: Arr, ti: Arr, tf: Arr) -> None:
    """Exit at the SL or TP inside bar ``j``. When the bar touches both, the lower-timeframe
    bars inside it (if given) tell which came first; without them, or when they cannot tell,
    the SL (the worse) is assumed."""
    side, s, sl, tp = st[S_SIDE], spread[j], fs[F_STOP], fs[F_TP]
    reason, exit_bid, both = _first_touch(ohlc, j, j + 1, side, s, sl, tp)
    if both:
        st[S_BOTH_TOUCHED] += 1
        if fine_range.shape[0] > j:
            finer, finer_bid, still_both = _first_touch(
                fine, fine_range[j, 0], fine_range[j, 1], side, s, sl, tp)
            if finer != 0:
                reason, exit_bid = finer, finer_bid
                st[S_RESOLVED] += 0 if still_both else 1
    if reason == R_STOP_LOSS and sl != fs[F_SL]:  # the stop-out price was the tighter
        reason = R_STOP_OUT
    _close(j, reason, exit_bid, s, days, p, st, fs, ti, tf)


@njit(cache=True, inline="always")
def _close_decision(side: int, signal: int, bars_held_at_fill: int, exit_opposite: bool,
                    max_bars: int) -> tuple[int, bool]:
    """At a bar's close: which exit to fill at the next open (0: none) and whether the signal
    opens a position there. A same-direction signal is ignored while a position is open; an
    opposite one closes it (``exit_opposite``) and opens the other way (the reversal)."""
    if side == 0:
        return 0, signal != 0
    if exit_opposite and signal == -side:
        return R_OPPOSITE, True
    if 0 < max_bars <= bars_held_at_fill:
        return R_TIME, False
    return 0, False


@njit(cache=True, inline="always")
def _queue_entry(j: int, signal: int, atr: Arr, p: Arr, st: Arr, fs: Arr) -> None:
    # SL/TP distances come from the signal bar's ATR: known at its close, no look-ahead.
    sl_dist, tp_dist = p[P_SL_DIST], p[P_TP_DIST]
    if not math.isnan(p[P_SL_ATR]):
        sl_dist = p[P_SL_ATR] * atr[j]
    if not math.isnan(p[P_TP_ATR]):
        tp_dist = p[P_TP_ATR] * atr[j]
    uses_atr = not (math.isnan(p[P_SL_ATR]) and math.isnan(p[P_TP_ATR]))
    if uses_atr and not atr[j] > 0.0:  # ATR still warming up (NaN) or flat data
        st[S_SKIP_NO_ATR] += 1
        return
    st[S_PEND_SIDE] = signal
    st[S_PEND_BAR] = fill_bar(j)
    st[S_PEND_SIGNAL_BAR] = j
    fs[F_PEND_SL_DIST] = sl_dist
    fs[F_PEND_TP_DIST] = tp_dist


@njit(cache=True, inline="always")
def _exit_at_open(j: int, ohlc: Arr, spread: Arr, days: Arr, p: Arr, st: Arr, fs: Arr,
                  ti: Arr, tf: Arr) -> None:
    _close(j, st[S_EXIT_REASON], ohlc[j, 0], spread[j], days, p, st, fs, ti, tf)


@njit(cache=True, inline="always")
def _close_at_end(j: int, ohlc: Arr, spread: Arr, days: Arr, p: Arr, st: Arr, fs: Arr,
                  ti: Arr, tf: Arr) -> None:
    _close(j, R_END, ohlc[j, 3], spread[j], days, p, st, fs, ti, tf)


@njit(cache=True, inline="always")
def _close(j: int, reason: int, exit_bid: float, exit_spread: float, days: Arr, p: Arr,
           st: Arr, fs: Arr, ti: Arr, tf: Arr) -> None:
    """Close the position at bar ``j``; ``exit_bid`` is the bid-side exit level before
    spread and slippage. Books the trade and its costs, to the cent."""
    side, lots, vpu = st[S_SIDE], fs[F_LOTS], p[P_VPU]
    if side == 1:
        exit_fill = exit_bid - p[P_SLIPPAGE]
        spread_paid = fs[F_ENTRY_SPREAD]
    else:
        exit_fill = exit_bid + exit_spread + p[P_SLIPPAGE]
        spread_paid = exit_spread
    k = st[S_NTRADES]
    net_fill = _profit(side, lots, fs[F_ENTRY_PRICE], exit_fill, vpu)
    gross = _profit(side, lots, fs[F_ENTRY_BID], exit_bid, vpu)
    spread_cost = _cents(spread_paid * vpu * lots)
    nights = days[j] - days[st[S_ENTRY_BAR]]
    rate = p[P_SWAP_LONG] if side == 1 else p[P_SWAP_SHORT]
    tf[k, U_COMMISSION] = _cents(p[P_COMMISSION] * lots)
    tf[k, U_SWAP] = _cents(rate * lots * nights)
    tf[k, U_NET] = _cents(net_fill - tf[k, U_COMMISSION] + tf[k, U_SWAP])
    tf[k, U_GROSS] = gross
    tf[k, U_SPREAD_COST] = spread_cost
    tf[k, U_SLIP_COST] = _cents(gross - net_fill - spread_cost)
    tf[k, U_ENTRY_PRICE] = fs[F_ENTRY_PRICE]
    tf[k, U_EXIT_PRICE] = exit_fill
    tf[k, U_LOTS] = lots
    tf[k, U_SL] = fs[F_SL]
    tf[k, U_TP] = fs[F_TP]
    fs[F_BALANCE] = fs[F_BALANCE] + tf[k, U_NET]
    tf[k, U_BALANCE] = fs[F_BALANCE]
    ti[k, T_ENTRY_BAR] = st[S_ENTRY_BAR]
    ti[k, T_EXIT_BAR] = j
    ti[k, T_SIDE] = side
    ti[k, T_REASON] = reason
    ti[k, T_SIGNAL_BAR] = st[S_SIGNAL_BAR]
    ti[k, T_NIGHTS] = nights
    st[S_NTRADES] = k + 1
    st[S_SIDE] = 0
    st[S_EXIT_REASON] = 0


@njit(cache=True)
def equity_curve(close: Arr, spread: Arr, days: Arr, ti: Arr, tf: Arr, ntrades: int,
                 initial: float, p: Arr) -> Arr:
    """Equity at every bar's close (hot path): the balance plus the open position marked to
    the price it could close at (bid for a BUY, ask for a SELL) less its commission, plus the
    swap accrued so far. A trade counts as open on bars ``[entry_bar, exit_bar)``."""
    n = close.shape[0]
    booked = np.zeros(n)
    floating = np.zeros(n)
    vpu = p[P_VPU]
    for k in range(ntrades):
        booked[ti[k, T_EXIT_BAR]] += tf[k, U_NET]
        side, lots, entry = ti[k, T_SIDE], tf[k, U_LOTS], tf[k, U_ENTRY_PRICE]
        rate = p[P_SWAP_LONG] if side == 1 else p[P_SWAP_SHORT]
        entry_bar = ti[k, T_ENTRY_BAR]
        for j in range(entry_bar, ti[k, T_EXIT_BAR]):
            mark = close[j] if side == 1 else close[j] + spread[j]
            floating[j] = (_profit(side, lots, entry, mark, vpu) - tf[k, U_COMMISSION]
                           + _cents(rate * lots * (days[j] - days[entry_bar])))
    return initial + np.cumsum(booked) + floating
