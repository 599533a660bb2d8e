"""Order validation at the edge (pure: no Django). RELIABILITY 12 and 13.

Two steps, both before anything is sent (and before anything but a rejected intent is stored):

1. :func:`parse_order_request`: the input as typed (text from a command or an API, numbers
   from the trading cycle): a known side, a symbol, finite positive numbers. Every bad field
   is reported at once, by name (``OrderInvalid.errors``).
2. :func:`check_order_against_market`: the request against the broker's contract facts and
   the current quote, both read from the broker at run time, never assumed: volume on the step
   and within min/max, SL/TP on the right side of the price and at least ``stops_level``
   points away from it (MT5's rule: a BUY is judged against the bid it closes at, a SELL
   against the ask), prices on the quote grid.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from nusatrade.errors import DataError
from trading.brokers.base import OrderSide, Tick, VolumeProblem, volume_problem
from trading.pnl import InstrumentSpec


class OrderInvalid(DataError):
    """An order request that must not reach the broker; ``errors`` maps field -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        text = "; ".join(f"{field}: {message}" for field, message in self.errors.items())
        super().__init__(f"order refused: {text}")


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: OrderSide
    volume: Decimal
    sl: Decimal | None = None
    tp: Decimal | None = None


def _number(value: Any, field: str, errors: dict[str, str], *, required: bool) -> Decimal | None:
    """A finite positive Decimal from ``value`` (str, int, Decimal or float), else an error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[field] = "is required"
        return None
    if isinstance(value, bool) or not isinstance(value, str | numbers.Number):
        errors[field] = f"must be a number, not {type(value).__name__}"
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        errors[field] = f"{str(value)[:40]!r} is not a number"
        return None
    if not number.is_finite():
        errors[field] = f"must be a finite number, not {value}"
        return None
    if number <= 0:
        errors[field] = f"must be greater than zero, not {number}"
        return None
    return number


def parse_order_request(symbol: Any, side: Any, volume: Any, sl: Any = None,
                        tp: Any = None) -> OrderRequest:
    """The request with typed fields, or OrderInvalid naming every bad field."""
    errors: dict[str, str] = {}
    name = symbol.strip().upper() if isinstance(symbol, str) else ""
    if not name:
        errors["symbol"] = "is required"
    elif len(name) > 32 or not name.replace(".", "").replace("_", "").isalnum():
        errors["symbol"] = f"{name[:40]!r} is not a symbol name"
    text = side.strip().upper() if isinstance(side, str) else ""
    if text not in ("BUY", "SELL"):
        errors["side"] = f"must be BUY or SELL, not {str(side)[:20]!r}"
    lots = _number(volume, "volume", errors, required=True)
    stop = _number(sl, "sl", errors, required=False)
    take = _number(tp, "tp", errors, required=False)
    if errors:
        raise OrderInvalid(errors)
    assert lots is not None
    return OrderRequest(symbol=name, side=OrderSide(text), volume=lots, sl=stop, tp=take)


def check_volume(volume: Decimal, spec: InstrumentSpec) -> str | None:
    """Why ``volume`` is not tradable on ``spec`` (None: it is): the shared rule
    (:func:`trading.brokers.base.volume_problem`), worded for a trader."""
    problem = volume_problem(spec, volume)
    if problem is None:
        return None
    return {
        VolumeProblem.NOT_POSITIVE: f"{volume} is not a positive number of lots",
        VolumeProblem.BELOW_MIN: f"{volume} is below the minimum {spec.volume_min} lots of "
                                 f"{spec.symbol}",
        VolumeProblem.ABOVE_MAX: f"{volume} is above the maximum {spec.volume_max} lots of "
                                 f"{spec.symbol}",
        VolumeProblem.OFF_STEP: f"{volume} is not on the volume step {spec.volume_step} of "
                                f"{spec.symbol}",
    }[problem]


def _check_level(field: str, level: Decimal, side: OrderSide, tick: Tick,
                 spec: InstrumentSpec) -> str | None:
    if level != spec.round_price(level):
        return f"{level} has more than {spec.digits} decimals ({spec.symbol} quotes {spec.digits})"
    # A BUY closes at the bid, a SELL at the ask: its stops are judged against that price.
    price = tick.bid if side is OrderSide.BUY else tick.ask
    below = (field == "sl") == (side is OrderSide.BUY)   # a long's SL and a short's TP are below
    distance = (price - level) if below else (level - price)
    where = "below" if below else "above"
    if distance <= 0:
        return (f"{level} is on the wrong side: a {side.value} {field.upper()} must be {where} "
                f"the current {'bid' if side is OrderSide.BUY else 'ask'} {price}")
    minimum = spec.points(spec.stops_level)
    if spec.stops_level and distance < minimum:
        return (f"{level} is inside the stops level: it must be at least {spec.stops_level} "
                f"points ({minimum}) {where} {price}")
    return None


def check_order_against_market(request: OrderRequest, spec: InstrumentSpec,
                               tick: Tick) -> None:
    """OrderInvalid unless ``request`` can be sent as it is at the quote ``tick``."""
    errors: dict[str, str] = {}
    problem = check_volume(request.volume, spec)
    if problem:
        errors["volume"] = problem
    for field in ("sl", "tp"):
        level = getattr(request, field)
        problem = None if level is None else _check_level(field, level, request.side, tick, spec)
        if problem:
            errors[field] = problem
    if errors:
        raise OrderInvalid(errors)
