"""The one SL/TP-inside-a-bar rule (shared by the backtester and the paper broker)."""

from __future__ import annotations

import math

import pytest

from trading.fills import NO_EXIT, STOP_LOSS, TAKE_PROFIT, first_touch

SL_LONG, TP_LONG = 99.0, 102.0
SL_SHORT, TP_SHORT = 102.0, 99.0

# side, open, high, low, spread, sl, tp -> reason, exit bid, both
CASES = [
    # long, quiet bar inside both levels: nothing
    (1, 100.0, 101.0, 99.5, 0.0, SL_LONG, TP_LONG, NO_EXIT, math.nan, False),
    # long, bar reaches only the TP: filled at the TP
    (1, 100.0, 102.5, 99.5, 0.0, SL_LONG, TP_LONG, TAKE_PROFIT, 102.0, False),
    # long, bar reaches only the SL: filled at the SL
    (1, 100.0, 101.0, 98.0, 0.0, SL_LONG, TP_LONG, STOP_LOSS, 99.0, False),
    # long, bar touches both from inside: SL counts first (the worse case)
    (1, 100.0, 103.0, 98.0, 0.0, SL_LONG, TP_LONG, STOP_LOSS, 99.0, True),
    # long, gap up through the TP then trades through the SL: TP filled at the open
    (1, 103.0, 103.5, 98.0, 0.0, SL_LONG, TP_LONG, TAKE_PROFIT, 103.0, True),
    # long, gap down through the SL: filled at the open, worse than the SL
    (1, 98.0, 98.5, 97.0, 0.0, SL_LONG, TP_LONG, STOP_LOSS, 98.0, False),
    # short (levels on the ask; spread 0.5): ask high 102.5 reaches the SL 102 -> bid 101.5
    (-1, 100.0, 102.0, 99.8, 0.5, SL_SHORT, TP_SHORT, STOP_LOSS, 101.5, False),
    # short, ask low 99.0 reaches the TP 99 -> bid 98.5
    (-1, 100.0, 100.5, 98.5, 0.5, SL_SHORT, TP_SHORT, TAKE_PROFIT, 98.5, False),
    # short, gap down (ask open 98.5 <= TP) then up through the SL: TP at the open
    (-1, 98.0, 103.0, 97.0, 0.5, SL_SHORT, TP_SHORT, TAKE_PROFIT, 98.0, True),
    # short, gap up through the SL: filled at the open
    (-1, 103.0, 104.0, 102.8, 0.5, SL_SHORT, TP_SHORT, STOP_LOSS, 103.0, False),
    # no levels (NaN) never trigger
    (1, 100.0, 200.0, 1.0, 0.0, math.nan, math.nan, NO_EXIT, math.nan, False),
]


@pytest.mark.parametrize(("side", "o", "h", "lo", "spread", "sl", "tp", "reason", "price",
                          "both"), CASES)
def test_first_touch_scenarios(side, o, h, lo, spread, sl, tp, reason, price, both):
    got_reason, got_price, got_both = first_touch(side, o, h, lo, spread, sl, tp)
    assert got_reason == reason
    assert got_both == both
    if math.isnan(price):
        assert math.isnan(got_price)
    else:
        assert got_price == pytest.approx(price)


def test_first_touch_compiles_with_numba_and_agrees():
    from numba import njit

    compiled = njit(cache=False)(first_touch)
    for side, o, h, lo, spread, sl, tp, *_ in CASES:
        a, b = first_touch(side, o, h, lo, spread, sl, tp), compiled(side, o, h, lo, spread,
                                                                      sl, tp)
        assert a[0] == b[0] and a[2] == b[2]
        assert (math.isnan(a[1]) and math.isnan(b[1])) or a[1] == b[1]
