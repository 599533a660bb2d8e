"""MetaTrader5 records as NusaTrade's broker dataclasses, and the checks an order passes before
it is sent (pure: no Django; used by :class:`trading.brokers.mt5.MT5Broker`).

- Times: positions, deals, orders and ticks carry seconds on the broker SERVER's wall clock,
  like bars; they come back as UTC. Unlike bars (refused when ambiguous), a record falling in
  the repeated hour of a daylight-saving switch takes the first reading: a deal's time is
  informative, never a grid key.
- Money and prices: ``Decimal`` via :func:`trading.pnl.to_decimal` (a float's shortest repr,
  so 2350.1 stays 2350.1).
- Requests: plain ``int``/``float``/``str`` values only. mt5linux renders the request into
  Python source evaluated in the Windows process; a ``Decimal`` or a numpy float prints as
  ``Decimal('1.0')``/``np.float64(1.0)`` there and the remote call fails.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from trading.brokers import base
from trading.brokers import mt5_constants as c
from trading.brokers.base import (  # noqa: F401 - identity rules re-exported
    AccountInfo,
    BrokerDeal,
    BrokerOrderRecord,
    BrokerPosition,
    DealEntry,
    DealReason,
    OrderSide,
    Tick,
    normalise_level,
    validate_identity,
)
from trading.pnl import InstrumentSpec, to_decimal

_UTC_NAMES = ("", "UTC", "Etc/UTC", "GMT")
NY_CLOSE = "NY+7"
_NY = ZoneInfo("America/New_York")
_NY_SHIFT = timedelta(hours=7)
_EPOCH = datetime(1970, 1, 1)

_ENTRIES = {c.DEAL_ENTRY_IN: DealEntry.IN, c.DEAL_ENTRY_OUT: DealEntry.OUT,
            c.DEAL_ENTRY_INOUT: DealEntry.INOUT, c.DEAL_ENTRY_OUT_BY: DealEntry.OUT_BY}
_REASONS = {c.DEAL_REASON_CLIENT: DealReason.CLIENT, c.DEAL_REASON_MOBILE: DealReason.CLIENT,
            c.DEAL_REASON_WEB: DealReason.CLIENT, c.DEAL_REASON_EXPERT: DealReason.EXPERT,
            c.DEAL_REASON_SL: DealReason.STOP_LOSS, c.DEAL_REASON_TP: DealReason.TAKE_PROFIT,
            c.DEAL_REASON_SO: DealReason.STOP_OUT}
PLAIN_TYPES = (int, float, str)


# --- time -----------------------------------------------------------------------------------
def server_time_to_utc(seconds: int, server_timezone: str) -> datetime:
    """A record's server wall-clock seconds as an aware UTC datetime."""
    naive = _EPOCH + timedelta(seconds=int(seconds))
    if server_timezone in _UTC_NAMES:
        return naive.replace(tzinfo=UTC)
    if server_timezone == NY_CLOSE:
        return (naive - _NY_SHIFT).replace(tzinfo=_NY).astimezone(UTC)
    return naive.replace(tzinfo=ZoneInfo(server_timezone)).astimezone(UTC)


def utc_to_server_seconds(when: datetime, server_timezone: str) -> int:
    """An aware datetime as the server's wall-clock seconds (what history ranges compare)."""
    utc = when.astimezone(UTC)
    if server_timezone in _UTC_NAMES:
        local = utc.replace(tzinfo=None)
    elif server_timezone == NY_CLOSE:
        local = utc.astimezone(_NY).replace(tzinfo=None) + _NY_SHIFT
    else:
        local = utc.astimezone(ZoneInfo(server_timezone)).replace(tzinfo=None)
    return int((local - _EPOCH).total_seconds())


# --- identity -------------------------------------------------------------------------------
def comment_for(client_id: str, note: str = "") -> str:
    """The MT5 comment of an order: the client id, then an ASCII note, cut to 31 characters
    (the terminal's limit; the client id always fits whole)."""
    text = client_id if not note else f"{client_id} {note}"
    return text.encode("ascii", "replace").decode("ascii")[: c.COMMENT_LENGTH]


def client_id_of(comment: str) -> str:
    """The client id a comment starts with ("" for none)."""
    return comment.split(" ", 1)[0] if comment else ""


def check_plain(request: dict[str, Any]) -> dict[str, Any]:
    """``request`` unchanged if every value is a plain int/float/str (TypeError otherwise)."""
    bad = {k: type(v).__name__ for k, v in request.items() if type(v) not in PLAIN_TYPES}
    if bad:
        raise TypeError(f"MT5 request values must be plain int/float/str: {bad}")
    return request


# --- checks before sending ------------------------------------------------------------------
def volume_problem(spec: InstrumentSpec, volume: Decimal) -> str | None:
    """Why ``volume`` lots cannot be sent for ``spec`` (None: it can): the shared rule
    (:func:`trading.brokers.base.volume_problem`) in the adapter's words."""
    problem = base.volume_problem(spec, volume)
    if problem is None:
        return None
    if problem is base.VolumeProblem.NOT_POSITIVE:
        return f"volume {volume} must be a positive finite number of lots"
    if problem is base.VolumeProblem.OFF_STEP:
        return f"volume {volume} is not on {spec.symbol}'s step of {spec.volume_step} lots"
    return (f"volume {volume} is outside {spec.symbol}'s {spec.volume_min}.."
            f"{spec.volume_max} lots")


def stops_problem(spec: InstrumentSpec, side: OrderSide, tick: Tick, sl: Decimal | None,
                  tp: Decimal | None) -> str | None:
    """Why SL/TP cannot be sent with a position of ``side`` at ``tick`` (None: they can).

    MT5's rule: a long's SL/TP trigger on the bid, a short's on the ask, and each must be on
    the right side of that price by at least ``trade_stops_level`` points (one point when the
    level is 0).
    """
    trigger = tick.bid if side is OrderSide.BUY else tick.ask
    name = "bid" if side is OrderSide.BUY else "ask"
    gap = spec.point * max(spec.stops_level, 1)
    sign = side.sign
    for label, level, direction in (("SL", sl, -1), ("TP", tp, 1)):
        if level is None:
            continue
        limit = trigger + direction * sign * gap
        if (level - limit) * direction * sign < 0:
            where = "at or below" if direction * sign < 0 else "at or above"
            return (f"{label} {level} for a {side.value} must be {where} {limit} ({name} "
                    f"{trigger}, stops level {spec.stops_level} points)")
    return None


# --- records --------------------------------------------------------------------------------
def decimal_of(value: Any) -> Decimal:
    """A record's number as Decimal. ``float()`` first: a bridge may hand back numpy floats,
    whose repr (``np.float64(1.5)``) is not a number."""
    return to_decimal(float(value))


def _level(value: float) -> Decimal | None:
    return decimal_of(value) if value else None


def _side(order_type: int) -> OrderSide:
    # Market and pending BUY types are even, SELL types odd (ORDER_TYPE_*, DEAL_TYPE_*).
    return OrderSide.BUY if int(order_type) % 2 == 0 else OrderSide.SELL


def account_from(info: Any) -> AccountInfo:
    margin = decimal_of(info.margin)
    return AccountInfo(
        login=str(info.login), currency=str(info.currency), balance=decimal_of(info.balance),
        equity=decimal_of(info.equity), margin=margin, margin_free=decimal_of(info.margin_free),
        margin_level=decimal_of(info.margin_level) if margin > 0 else None,
        leverage=int(info.leverage), server=str(info.server))


def tick_from(symbol: str, tick: Any, server_timezone: str) -> Tick:
    return Tick(symbol=symbol, time=server_time_to_utc(tick.time, server_timezone),
                bid=decimal_of(tick.bid), ask=decimal_of(tick.ask))


def position_from(pos: Any, server_timezone: str) -> BrokerPosition:
    side = OrderSide.BUY if int(pos.type) == c.POSITION_TYPE_BUY else OrderSide.SELL
    return BrokerPosition(
        ticket=int(pos.ticket), symbol=str(pos.symbol), side=side, volume=decimal_of(pos.volume),
        price_open=decimal_of(pos.price_open), sl=_level(pos.sl), tp=_level(pos.tp),
        price_current=decimal_of(pos.price_current), profit=decimal_of(pos.profit),
        swap=decimal_of(pos.swap), magic=int(pos.magic),
        client_id=client_id_of(str(pos.comment)),
        time=server_time_to_utc(pos.time, server_timezone))


def is_trade_deal(deal: Any) -> bool:
    """A buy or sell deal (not a balance, credit, commission... entry)."""
    return int(deal.type) in (c.DEAL_TYPE_BUY, c.DEAL_TYPE_SELL)


def deal_from(deal: Any, server_timezone: str) -> BrokerDeal:
    return BrokerDeal(
        ticket=int(deal.ticket), order_ticket=int(deal.order),
        position_ticket=int(deal.position_id), symbol=str(deal.symbol), side=_side(deal.type),
        entry=_ENTRIES.get(int(deal.entry), DealEntry.IN), volume=decimal_of(deal.volume),
        price=decimal_of(deal.price), profit=decimal_of(deal.profit),
        commission=decimal_of(deal.commission), swap=decimal_of(deal.swap),
        fee=decimal_of(deal.fee), magic=int(deal.magic),
        client_id=client_id_of(str(deal.comment)),
        reason=_REASONS.get(int(deal.reason), DealReason.OTHER),
        time=server_time_to_utc(deal.time, server_timezone))


def order_record_from(order: Any, server_timezone: str) -> BrokerOrderRecord:
    initial = decimal_of(order.volume_initial)
    price = order.price_current or order.price_open
    return BrokerOrderRecord(
        ticket=int(order.ticket), position_ticket=int(order.position_id),
        symbol=str(order.symbol), side=_side(order.type), volume_initial=initial,
        volume_filled=initial - decimal_of(order.volume_current),
        price=decimal_of(price) if price else None,
        state=c.ORDER_STATE_NAMES.get(int(order.state), f"state {order.state}"),
        magic=int(order.magic), client_id=client_id_of(str(order.comment)),
        time=server_time_to_utc(order.time_setup, server_timezone))
