"""The paper broker's refusals, with MetaTrader's return codes (pure: no Django).

Each ``refuse_*`` returns ``None`` when the request passes, else ``(retcode, detail)``: the
broker answers REJECTED with that code, its meaning and the detail, exactly where a real MT5
server would refuse (INVALID_VOLUME 10014, INVALID_STOPS 10016, MARKET_CLOSED 10018, NO_MONEY
10019, POSITION_CLOSED 10036, ...).
"""

from __future__ import annotations

from decimal import Decimal

from trading.brokers import retcodes
from trading.brokers.base import OrderSide, VolumeProblem, volume_problem
from trading.brokers.paper.ledger import Figures, Quote
from trading.pnl import InstrumentSpec

Refusal = tuple[int, str] | None


def refuse_volume(volume: Decimal, spec: InstrumentSpec) -> Refusal:
    """Volume positive, within the symbol's min/max and on its step (the shared rule,
    :func:`trading.brokers.base.volume_problem`, in the paper broker's words)."""
    problem = volume_problem(spec, volume)
    if problem is None:
        return None
    text = {
        VolumeProblem.NOT_POSITIVE: f"volume {volume} is not a positive number",
        VolumeProblem.BELOW_MIN: f"volume {volume} is below {spec.symbol}'s minimum "
                                 f"{spec.volume_min}",
        VolumeProblem.ABOVE_MAX: f"volume {volume} is above {spec.symbol}'s maximum "
                                 f"{spec.volume_max}",
        VolumeProblem.OFF_STEP: f"volume {volume} is not a multiple of {spec.symbol}'s step "
                                f"{spec.volume_step}",
    }[problem]
    return retcodes.INVALID_VOLUME, text


def refuse_close_volume(volume: Decimal, held: Decimal, spec: InstrumentSpec) -> Refusal:
    refusal = refuse_volume(volume, spec)
    if refusal is None and volume > held:
        return retcodes.INVALID_CLOSE_VOLUME, (f"close volume {volume} exceeds the position's "
                                               f"{held}")
    return refusal


def _refuse_level(name: str, level: Decimal, spec: InstrumentSpec) -> Refusal:
    if not isinstance(level, Decimal) or not level.is_finite() or level <= 0:
        return retcodes.INVALID_STOPS, f"{name} {level} is not a positive price"
    if spec.round_price(level) != level:
        return retcodes.INVALID_STOPS, (f"{name} {level} is not on {spec.symbol}'s "
                                        f"{spec.digits}-digit grid")
    return None


def refuse_stops(side: OrderSide, sl: Decimal | None, tp: Decimal | None, quote: Quote,
                 spec: InstrumentSpec) -> Refusal:
    """SL/TP of a position of ``side`` on the right side of the price it closes at (a BUY's
    against the bid, a SELL's against the ask, as MT5 checks them) and at least the stops
    level (``spec.stops_level`` points) away from it."""
    reference = quote.mark(side)
    distance = spec.points(spec.stops_level)
    where = "bid" if side is OrderSide.BUY else "ask"
    for name, level, below in (("SL", sl, side is OrderSide.BUY),
                               ("TP", tp, side is not OrderSide.BUY)):
        if level is None:
            continue
        refusal = _refuse_level(name, level, spec)
        if refusal:
            return refusal
        gap = reference - level if below else level - reference
        if gap <= 0 or gap < distance:
            side_word = "below" if below else "above"
            return retcodes.INVALID_STOPS, (
                f"{side.value} {name} {level} must be {side_word} the {where} {reference}"
                + (f" by at least {distance} (stops level {spec.stops_level} points)"
                   if distance else ""))
    return None


def refuse_frozen(side: OrderSide, sl: Decimal | None, tp: Decimal | None, quote: Quote,
                  spec: InstrumentSpec) -> Refusal:
    """A position whose current SL/TP is within the freeze level of the price cannot change."""
    if not spec.freeze_level:
        return None
    reference, distance = quote.mark(side), spec.points(spec.freeze_level)
    for level in (sl, tp):
        if level is not None and abs(reference - level) < distance:
            return retcodes.FROZEN, (f"level {level} is within the freeze level "
                                     f"({spec.freeze_level} points) of {reference}")
    return None


def refuse_margin(after: Figures, extra_margin: Decimal) -> Refusal:
    """The new position's margin must fit in the free margin."""
    if extra_margin > after.free:
        return retcodes.NO_MONEY, (f"margin {extra_margin} needed, free margin {after.free} "
                                   f"(equity {after.equity})")
    return None
