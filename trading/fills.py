"""Where a stop-loss or take-profit fills inside one bar: the ONE rule shared by the backtest
engine (compiled with numba, hot path) and the paper broker (pure: no Django).

Bars are bid prices; ask = bid + spread. A long's SL/TP trigger on the bid, a short's on the
ask (as MetaTrader does). Order of precedence inside one bar, because OHLC cannot say what
happened first:

1. the OPEN: a bar opening beyond a level fills there, at the open. A gap beyond the
   take-profit fills the TP at the open (better than the TP) even if the same bar then trades
   through the stop; a gap beyond the stop fills the SL at the open (worse than the SL);
2. otherwise, when the bar touches both levels, the stop-loss counts first (the worse case:
   we cannot know the order without finer bars);
3. otherwise whichever level the bar touched.

``NaN`` levels (no SL or no TP) never trigger.
"""

from __future__ import annotations

NO_EXIT, STOP_LOSS, TAKE_PROFIT = 0, 1, 2
REASONS = ("", "stop_loss", "take_profit")


def first_touch(side: int, bar_open: float, high: float, low: float, spread: float, sl: float,
                tp: float) -> tuple[int, float, bool]:
    """(reason, bid-side exit price, whether the bar touched both levels) for one bar.

    ``side`` +1 long, -1 short; ``spread`` in price units for this bar; reason is
    :data:`NO_EXIT` (price NaN), :data:`STOP_LOSS` or :data:`TAKE_PROFIT`. The exit price is
    the BID at which the position closes: a short closes at the ask, so its level is converted
    back with ``- spread`` (the caller adds the spread for the ask fill, as for any close).
    Plain float code: the engine compiles it with ``numba.njit``.
    """
    if side == 1:
        sl_hit = low <= sl
        tp_hit = high >= tp
        both = sl_hit and tp_hit
        if bar_open >= tp:            # gapped through the TP: filled at the open
            return TAKE_PROFIT, bar_open, both
        if sl_hit:                    # SL first; a gap below it fills at the open
            return STOP_LOSS, min(bar_open, sl), both
        if tp_hit:
            return TAKE_PROFIT, tp, both
        return NO_EXIT, float("nan"), False
    ask_open, ask_high, ask_low = bar_open + spread, high + spread, low + spread
    sl_hit = ask_high >= sl
    tp_hit = ask_low <= tp
    both = sl_hit and tp_hit
    if ask_open <= tp:
        return TAKE_PROFIT, bar_open, both
    if sl_hit:
        return STOP_LOSS, max(ask_open, sl) - spread, both
    if tp_hit:
        return TAKE_PROFIT, tp - spread, both
    return NO_EXIT, float("nan"), False
