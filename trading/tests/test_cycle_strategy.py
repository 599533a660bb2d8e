"""The live cycle's strategy arithmetic equals the backtester's (pure: no database)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from backtests.engine import kernel
from trading.cycle import strategy


def test_the_fill_shift_is_the_next_bar_open():
    bar = datetime(2024, 3, 6, 9, tzinfo=UTC)
    assert strategy.fill_time(bar, "H1") == datetime(2024, 3, 6, 10, tzinfo=UTC)
    assert strategy.fill_time(bar, "M15") == datetime(2024, 3, 6, 9, 15, tzinfo=UTC)


@pytest.mark.parametrize(("side", "signal", "held", "opposite", "max_bars", "expected"), [
    (0, 1, 0, True, None, (None, True)),          # flat: a signal enters
    (0, 0, 0, True, None, (None, False)),         # flat, HOLD: nothing
    (1, 1, 3, True, None, (None, False)),         # same direction: ignored
    (1, -1, 3, True, None, ("opposite_signal", True)),   # exit and reverse
    (1, -1, 3, False, None, (None, False)),       # opposite ignored without the exit rule
    (-1, 0, 5, True, 5, ("time", False)),         # time exit at max bars held
    (-1, 1, 5, True, 5, ("opposite_signal", True)),      # the opposite exit wins
    (-1, 0, 4, True, 5, (None, False)),
])
def test_the_close_decision_is_the_kernels(side, signal, held, opposite, max_bars, expected):
    assert strategy.close_decision(side, signal, held, opposite, max_bars) == expected
    code, enter = kernel._close_decision(side, signal, held, opposite, max_bars or 0)
    assert (strategy.EXIT_CODES.get(int(code)), bool(enter)) == expected


def test_bars_held_counts_the_bars_that_exist_across_a_weekend():
    # Friday 20:00 and 21:00, then Sunday 22:00 and 23:00 (no weekend bars).
    times = pd.DatetimeIndex(["2024-03-08 20:00", "2024-03-08 21:00", "2024-03-10 22:00",
                              "2024-03-10 23:00"], tz="UTC")
    entry = datetime(2024, 3, 8, 21, 0, 3, tzinfo=UTC)    # filled a few seconds into 21:00
    assert strategy.bars_held_at_fill(times, entry, "H1") == 3   # 21:00, 22:00, 23:00


def test_entry_levels_are_the_kernels_fill_plus_atr_multiples_on_the_quote_grid():
    levels = strategy.entry_levels(1, Decimal("2000.00"), Decimal("2000.30"), 0.1, 2.0,
                                   1.5, 3.0, 2)
    assert levels.expected_fill == pytest.approx(2000.40)
    assert (levels.sl, levels.tp) == (Decimal("1997.40"), Decimal("2006.40"))
    short = strategy.entry_levels(-1, Decimal("2000.00"), Decimal("2000.30"), 0.1, 2.0,
                                  1.5, None, 2)
    assert (short.sl, short.tp) == (Decimal("2002.90"), None)


def test_entry_lots_fixed_or_sized_by_risk():
    args = (Decimal("10000"), 3.0, Decimal("100"), Decimal("0.01"), Decimal("0.01"),
            Decimal("100"))
    assert strategy.entry_lots(Decimal("0.05"), None, *args) == Decimal("0.05")
    # 1% of 10,000 = 100 at risk over a 3.0 stop of 100 per lot per 1.0: 0.33 lots.
    assert strategy.entry_lots(Decimal("0.05"), Decimal("1"), *args) == Decimal("0.33")


def test_atr_at_signal_is_talibs_last_value_and_nan_while_warming_up():
    import talib

    rng = np.random.default_rng(1)
    close = 2000 + np.cumsum(rng.normal(0, 1, 50))
    bars = pd.DataFrame({"high": close + 1, "low": close - 1, "close": close})
    expected = talib.ATR(bars["high"].to_numpy(), bars["low"].to_numpy(),
                         bars["close"].to_numpy(), timeperiod=14)[-1]
    assert strategy.atr_at_signal(bars, 14) == expected
    assert math.isnan(strategy.atr_at_signal(bars.iloc[:10], 14))


def test_a_long_warm_window_makes_the_atr_independent_of_where_it_starts():
    rng = np.random.default_rng(2)
    close = 2000 + np.cumsum(rng.normal(0, 1, 2000))
    bars = pd.DataFrame({"high": close + rng.uniform(0.1, 2, 2000),
                         "low": close - rng.uniform(0.1, 2, 2000), "close": close})
    full = strategy.atr_at_signal(bars, 14)
    window = strategy.atr_at_signal(bars.iloc[-strategy.ATR_WARMUP_BARS:], 14)
    assert window == pytest.approx(full, rel=1e-15)
