"""trading.pnl: hand-worked profits and costs, and the float twins against the Decimal one."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from numba import njit

from trading.pnl import (
    InstrumentSpec,
    Side,
    commission,
    profit,
    profit_array,
    profit_float,
    slippage_cost,
    spread_cost,
    swap,
    to_cents,
)

D = Decimal
XAUUSD = InstrumentSpec("XAUUSD", 2, D("0.01"), D("100"), D("0.01"), D("1"), D("0.1"))
XAUUSD_3 = InstrumentSpec("XAUUSD", 3, D("0.001"), D("100"), D("0.001"), D("0.1"), D("0.1"))
EURUSD = InstrumentSpec("EURUSD", 5, D("0.00001"), D("100000"), D("0.00001"), D("1"),
                        D("0.0001"))


@pytest.mark.parametrize(("side", "lots", "open_", "close", "spec", "expected"), [
    (Side.BUY, "0.10", "2350.00", "2352.50", XAUUSD, "25.00"),     # the seed's example
    (Side.SELL, "0.10", "2350.00", "2352.50", XAUUSD, "-25.00"),   # same move, short
    (Side.BUY, "0.01", "2350.00", "2349.13", XAUUSD, "-0.87"),     # 87 points on 0.01 lot
    (Side.SELL, "1.00", "2001.55", "1990.05", XAUUSD, "1150.00"),  # 11.50 x 100 oz
    (Side.BUY, "1.00", "1.08500", "1.08620", EURUSD, "120.00"),    # 12 pips on a lot
    (Side.SELL, "0.25", "1.08500", "1.08620", EURUSD, "-30.00"),
    (Side.BUY, "0.01", "1.10000", "1.10001", EURUSD, "0.01"),      # one point on 0.01 lot
    # A 3-digit gold quote: one point (0.001) is 0.1 USD per lot, so cents can tie.
    (Side.BUY, "0.01", "2350.000", "2350.001", XAUUSD_3, "0.00"),  # 0.001
    (Side.BUY, "0.05", "2350.000", "2350.001", XAUUSD_3, "0.00"),  # 0.005: half to even -> 0
    (Side.BUY, "0.15", "2350.000", "2350.001", XAUUSD_3, "0.02"),  # 0.015: half to even -> 2
    (Side.SELL, "0.25", "2350.000", "2350.001", XAUUSD_3, "-0.02"),  # -0.025 -> -0.02
])
def test_profit_hand_worked(side: Side, lots: str, open_: str, close: str,
                            spec: InstrumentSpec, expected: str) -> None:
    assert profit(side, D(lots), D(open_), D(close), spec) == D(expected)


def test_profit_takes_plain_ints_as_sides() -> None:
    assert profit(1, D("0.10"), D("2350.00"), D("2352.50"), XAUUSD) == D("25.00")
    assert profit(-1, D("0.10"), D("2350.00"), D("2352.50"), XAUUSD) == D("-25.00")
    with pytest.raises(ValueError, match="not a valid Side"):
        profit(0, D("0.10"), D("2350.00"), D("2352.50"), XAUUSD)


def test_no_negative_zero() -> None:
    assert str(profit(Side.SELL, D("0.10"), D("2350.00"), D("2350.00"), XAUUSD)) == "0.00"
    assert str(profit_float(-1.0, 0.1, 2350.0, 2350.0, 100.0)) == "0.0"
    assert str(profit_array(np.array([-1.0]), 0.1, np.array([1.0]), np.array([1.0]),
                            100.0)[0]) == "0.0"


def test_to_cents_rounds_half_to_even() -> None:
    assert [to_cents(D(x)) for x in ("0.125", "0.135", "-0.125", "2.675")] == [
        D("0.12"), D("0.14"), D("-0.12"), D("2.68")]


def test_instrument_helpers() -> None:
    assert XAUUSD.value_per_price_unit == D("100")
    assert EURUSD.value_per_price_unit == D("100000")
    assert XAUUSD.pips(2) == D("0.2")
    assert EURUSD.pips(2) == D("0.0002")
    assert XAUUSD.points(25) == D("0.25")
    assert XAUUSD.round_price(D("2350.125")) == D("2350.12")


def test_from_instrument_reads_model_like_objects() -> None:
    class Row:
        symbol, digits, point, contract_size = "XAUUSD", 2, D("0.01"), D("100")
        tick_size, tick_value, pip_size = D("0.01"), D("1"), D("0.1")
        volume_min, volume_step, volume_max = D("0.01"), D("0.01"), D("50")

    spec = InstrumentSpec.from_instrument(Row())
    assert spec == InstrumentSpec("XAUUSD", 2, D("0.01"), D("100"), D("0.01"), D("1"),
                                  D("0.1"), volume_max=D("50"))


def test_costs_in_money() -> None:
    # 3 pips of gold spread (0.30) on 0.10 lot: 0.30 x 100 x 0.10 = 3.00
    assert spread_cost(D("0.10"), XAUUSD.pips(3), XAUUSD) == D("3.00")
    # 1 pip EURUSD slippage on each of two fills, 1 lot: 0.0001 x 2 x 100000 = 20.00
    assert slippage_cost(D("1"), EURUSD.pips(1), EURUSD) == D("20.00")
    assert commission(D("0.30"), D("7")) == D("2.10")
    assert swap(Side.BUY, D("0.50"), 3, D("-4.20"), D("1.10")) == D("-6.30")
    assert swap(Side.SELL, D("0.50"), 3, D("-4.20"), D("1.10")) == D("1.65")
    assert swap(Side.SELL, D("0.50"), 0, D("-4.20"), D("1.10")) == D("0.00")


def _random_cases(seed: int, count: int, spec: InstrumentSpec, base: float,
                  spread: float) -> list[tuple[int, Decimal, Decimal, Decimal]]:
    """Random sides, lots on the 0.01 step and prices on the instrument's grid."""
    rng = np.random.default_rng(seed)
    ticks = round(1 / float(spec.point))
    cases = []
    for _ in range(count):
        side = int(rng.choice([-1, 1]))
        lots = D(int(rng.integers(1, 5001))) / 100
        open_ticks = int(base * ticks) + int(rng.integers(-int(spread * ticks),
                                                             int(spread * ticks)))
        close_ticks = open_ticks + int(rng.integers(-int(spread * ticks), int(spread * ticks)))
        quantum = spec.point
        cases.append((side, lots, D(open_ticks) * quantum, D(close_ticks) * quantum))
    return cases


@pytest.mark.parametrize(("spec", "base", "spread"), [(XAUUSD, 2000.0, 150.0),
                                                      (EURUSD, 1.1, 0.05)])
def test_float_twins_match_decimal_to_the_cent(spec: InstrumentSpec, base: float,
                                               spread: float) -> None:
    cases = _random_cases(7, 3000, spec, base, spread)
    expected = [profit(s, lots, o, c, spec) for s, lots, o, c in cases]
    vpu = float(spec.value_per_price_unit)
    sides, lots, opens, closes = (np.array([float(case[i]) for case in cases])
                                  for i in range(4))
    vectorised = profit_array(sides, lots, opens, closes, vpu)
    scalar = [profit_float(*map(float, case), vpu) for case in cases]
    compiled = njit(profit_float)
    jitted = [compiled(*map(float, case), vpu) for case in cases[:300]]
    assert [D(f"{x:.2f}") for x in vectorised] == expected
    assert [D(f"{x:.2f}") for x in scalar] == expected
    assert [D(f"{x:.2f}") for x in jitted] == expected[:300]
    # and the floats are exactly the cents, not merely printing as them
    assert np.array_equal(vectorised, np.array([float(x) for x in expected]))


def test_margin_of_gold_at_1_to_100():
    from trading.pnl import margin_float, margin_level, margin_required

    assert margin_required(D("0.10"), D("2350.00"), XAUUSD, 100) == D("235.00")
    assert margin_float(0.10, 2350.0, 100.0, 100.0) == 235.0
    assert margin_level(D("10000"), D("235.00")) == D("4255.32")
    assert margin_level(D("10000"), D("0")) is None


def test_pip_size_defaults_to_ten_points():
    spec = InstrumentSpec("EURUSD", 5, D("0.00001"), D("100000"), D("0.00001"), D("1"))
    assert spec.pip_size == D("0.00010")


def test_to_decimal_takes_numpy_floats_exactly():
    import numpy as np

    from trading.pnl import to_decimal

    assert to_decimal(np.float64(2350.1)) == D("2350.1")
    assert to_decimal(0.01) == D("0.01")
