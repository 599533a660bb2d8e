"""Profit and cost money math: THE one place NusaTrade computes P/L (pure: no Django imports).

Everything money here is ``Decimal`` rounded to cents with ``ROUND_HALF_EVEN`` (banker's
rounding, what accounting ledgers use: ties go to the even cent, so rounding errors do not
drift one way over many trades). Inputs are ``Decimal`` too (pass ``Decimal("2350.00")``,
never a float literal: ``Decimal(2350.1)`` carries the binary error of the float).

Profit formula (MetaTrader's, in the account currency)::

    profit = side * (close_price - open_price) / tick_size * tick_value * lots

``side`` is +1 for BUY, -1 for SELL. ``tick_value / tick_size`` is the money one lot makes per
1.0 of price (``value_per_price_unit``): XAUUSD 1.00 / 0.01 = 100 (the 100 oz contract),
EURUSD 1.00 / 0.00001 = 100,000. For symbols quoted in the account currency it equals the
contract size; for others (USDJPY on a USD account) the broker's ``tick_value`` carries the
conversion.

Worked examples (tests check them): XAUUSD BUY 0.10 lot 2350.00 -> 2352.50:
``+1 * 2.50 * 100 * 0.10 = +25.00`` USD; SELL the same: ``-25.00`` USD. EURUSD BUY 1.00 lot
1.08500 -> 1.08620: ``0.00120 * 100000 * 1 = +120.00`` USD.

The vectorised backtester works in float64 for speed: :func:`profit_float` (scalar, also
compiled by numba inside the engine) and :func:`profit_array` (numpy) use the same formula and
round to cents with ``rint`` (round half to even). For prices on the instrument's grid and
lots on the 0.01 step the exact P/L is a whole number of cents, so the float twins equal the
Decimal function to the cent; a test checks that on many random cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import IntEnum
from typing import Any

import numpy as np

CENT = Decimal("0.01")
# MT5's usual stop-out: below this margin level (equity / margin * 100) the broker closes the
# worst position. The paper broker and the backtester both use it.
STOP_OUT_LEVEL = Decimal("50")


def to_decimal(value: Any) -> Decimal:
    """An exact Decimal for a number: floats go through ``repr`` (0.01 -> "0.01"), so a broker's
    float 2350.1 becomes Decimal("2350.1"), not its binary expansion."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # np.float64 too (a float subclass whose repr is not a number)
        return Decimal(repr(float(value)))
    return Decimal(str(value))


class Side(IntEnum):
    """Direction of a position: the sign its price move is multiplied by."""

    BUY = 1
    SELL = -1


@dataclass(frozen=True)
class InstrumentSpec:
    """Contract facts of one symbol, as plain values: THE one contract-facts type (the pure twin
    of ``trading.Instrument`` and what every broker's ``symbol_info`` returns).

    XAUUSD: ``InstrumentSpec("XAUUSD", 2, Decimal("0.01"), Decimal("100"), Decimal("0.01"),
    Decimal("1"), Decimal("0.1"))``. Some brokers quote gold with 3 digits: read the broker's
    ``symbol_info`` rather than assuming.

    - ``pip_size``: a pip in price units; ``None`` derives it as ten points (XAUUSD 0.1,
      EURUSD 0.0001, USDJPY 0.01), the usual convention.
    - ``stops_level`` / ``freeze_level``: MT5's ``trade_stops_level`` / ``trade_freeze_level``
      in POINTS (0: none): SL/TP must be at least that far from the price; a position whose
      SL/TP is within the freeze level of the price cannot be modified.
    - ``filling_modes``: MT5's ``filling_mode`` bit mask (1 FOK, 2 IOC; 0: only RETURN).
    - ``swap_long`` / ``swap_short``: money per lot per night (negative: a charge).
    """

    symbol: str
    digits: int
    point: Decimal
    contract_size: Decimal
    tick_size: Decimal
    tick_value: Decimal
    pip_size: Decimal | None = None
    volume_min: Decimal = Decimal("0.01")
    volume_step: Decimal = Decimal("0.01")
    volume_max: Decimal = Decimal("100")
    currency_profit: str = "USD"
    description: str = ""
    stops_level: int = 0
    freeze_level: int = 0
    filling_modes: int = 1
    swap_long: Decimal = Decimal("0")
    swap_short: Decimal = Decimal("0")

    def __post_init__(self) -> None:
        if self.pip_size is None:
            object.__setattr__(self, "pip_size", self.point * 10)

    @classmethod
    def from_instrument(cls, instrument: Any) -> InstrumentSpec:
        """Build from anything with the ``Instrument`` model's attributes (duck-typed)."""
        def dec(name: str, default: str) -> Decimal:
            value = getattr(instrument, name, None)
            return to_decimal(default if value is None else value)

        return cls(
            symbol=instrument.symbol, digits=int(instrument.digits),
            point=to_decimal(instrument.point), contract_size=to_decimal(instrument.contract_size),
            tick_size=to_decimal(instrument.tick_size),
            tick_value=to_decimal(instrument.tick_value),
            pip_size=dec("pip_size", str(to_decimal(instrument.point) * 10)),
            volume_min=dec("volume_min", "0.01"), volume_step=dec("volume_step", "0.01"),
            volume_max=dec("volume_max", "100"),
            currency_profit=getattr(instrument, "profit_currency", None)
            or getattr(instrument, "currency_profit", None) or "USD",
            description=getattr(instrument, "description", "") or "",
            stops_level=int(getattr(instrument, "stops_level", 0) or 0),
            freeze_level=int(getattr(instrument, "freeze_level", 0) or 0),
            filling_modes=int(getattr(instrument, "filling_modes", 1) or 0),
            swap_long=dec("swap_long", "0"), swap_short=dec("swap_short", "0"),
        )

    @property
    def value_per_price_unit(self) -> Decimal:
        """Money one lot makes per 1.0 of price (``tick_value / tick_size``)."""
        return self.tick_value / self.tick_size

    def pips(self, count: Decimal | float | int) -> Decimal:
        """``count`` pips in price units (XAUUSD: 2 pips = 0.2; EURUSD: 2 pips = 0.0002)."""
        return Decimal(str(count)) * self.pip_size

    def points(self, count: Decimal | float | int) -> Decimal:
        """``count`` points in price units (XAUUSD: 25 points = 0.25)."""
        return Decimal(str(count)) * self.point

    def round_price(self, price: Decimal) -> Decimal:
        """``price`` on the quote grid (``digits`` decimals, half-even)."""
        return price.quantize(Decimal(1).scaleb(-self.digits), rounding=ROUND_HALF_EVEN)


def to_cents(amount: Decimal) -> Decimal:
    """``amount`` rounded to cents, half to even (never ``-0.00``)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN) + 0


def profit(side: int, lots: Decimal, open_price: Decimal, close_price: Decimal,
           spec: InstrumentSpec) -> Decimal:
    """Profit (negative: loss) of ``lots`` opened at ``open_price`` and closed at
    ``close_price``, in the account currency, rounded to cents half-even.

    ``open_price``/``close_price`` are the fill prices (a BUY opens at the ask and closes at the
    bid; a SELL opens at the bid and closes at the ask), so the spread paid is already in them.
    """
    move = (close_price - open_price) * int(Side(side))
    return to_cents(move * spec.value_per_price_unit * lots)


def spread_cost(lots: Decimal, spread: Decimal, spec: InstrumentSpec) -> Decimal:
    """Money a round trip loses to a spread of ``spread`` price units (paid once per trade)."""
    return to_cents(spread * spec.value_per_price_unit * lots)


def slippage_cost(lots: Decimal, slippage: Decimal, spec: InstrumentSpec,
                  fills: int = 2) -> Decimal:
    """Money lost to ``slippage`` price units against us on each of ``fills`` fills."""
    return to_cents(slippage * fills * spec.value_per_price_unit * lots)


def commission(lots: Decimal, per_lot_round_turn: Decimal) -> Decimal:
    """Commission of a round trip (open + close) of ``lots``: a cost, returned positive."""
    return to_cents(lots * per_lot_round_turn)


def swap(side: int, lots: Decimal, nights: int, swap_long_per_lot: Decimal,
         swap_short_per_lot: Decimal) -> Decimal:
    """Swap (overnight financing) of a position held ``nights`` rollovers.

    The per-lot rates are money per lot per night as brokers quote them in money mode: a
    negative rate is a charge, a positive one a credit; the result keeps that sign.
    """
    rate = swap_long_per_lot if Side(side) is Side.BUY else swap_short_per_lot
    return to_cents(rate * lots * nights)


def profit_float(side: float, lots: float, open_price: float, close_price: float,
                 value_per_price_unit: float) -> float:
    """Float64 twin of :func:`profit` (hot path: the engine compiles it with numba).

    Rounds to cents with ``rint`` (half to even). Takes ``value_per_price_unit`` as a float
    (``float(spec.value_per_price_unit)``).
    """
    raw = side * (close_price - open_price) * value_per_price_unit * lots
    return float(np.rint(raw * 100.0) / 100.0) + 0.0  # + 0.0: no -0.0


def profit_array(side: np.ndarray, lots: np.ndarray | float, open_price: np.ndarray,
                 close_price: np.ndarray, value_per_price_unit: float) -> np.ndarray:
    """Vectorised float64 twin of :func:`profit` over arrays (hot path), rounded to cents."""
    raw = (np.asarray(side, dtype=np.float64)
           * (np.asarray(close_price, dtype=np.float64) - np.asarray(open_price, np.float64))
           * value_per_price_unit * np.asarray(lots, dtype=np.float64))
    return np.rint(raw * 100.0) / 100.0 + 0.0


def margin_required(lots: Decimal, price: Decimal, spec: InstrumentSpec, leverage: int) -> Decimal:
    """Margin a position of ``lots`` at ``price`` ties up, in the account currency, cents:
    ``lots * contract_size * price / leverage`` (MT5's Forex/CFD-leverage calculation for a
    symbol quoted in the account currency: XAUUSD 0.10 lot at 2350.00, 1:100 -> 235.00 USD)."""
    return to_cents(lots * spec.contract_size * price / Decimal(int(leverage)))


def margin_level(equity: Decimal, margin: Decimal) -> Decimal | None:
    """Margin level in percent (``equity / margin * 100``, 2 decimals); ``None`` with no margin
    in use (no open position), where MT5 shows no level."""
    if margin <= 0:
        return None
    return to_cents(equity / margin * 100)


def margin_float(lots: float, price: float, contract_size: float, leverage: float) -> float:
    """Float64 twin of :func:`margin_required` (hot path: numba-compilable), cents."""
    return float(np.rint(lots * contract_size * price / leverage * 100.0) / 100.0) + 0.0
