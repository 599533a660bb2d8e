"""The simulated account's records and the MetaTrader5 result types (pure: no Django): the
namedtuples with the real module's field names, the scripted faults, and the book of
positions, deals and orders that :mod:`trading.brokers.mt5sim_trade` keeps."""

from __future__ import annotations

import itertools
from collections import deque, namedtuple
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from fnmatch import fnmatchcase
from typing import Any

import pandas as pd

from trading.brokers import mt5_constants as c
from trading.brokers import retcodes as rc

TradeRequest = namedtuple(
    "TradeRequest", "action magic order symbol volume price stoplimit sl tp deviation type "
    "type_filling type_time expiration comment position position_by")
OrderSendResult = namedtuple(
    "OrderSendResult", "retcode deal order volume price bid ask comment request_id "
    "retcode_external request")
OrderCheckResult = namedtuple(
    "OrderCheckResult", "retcode balance equity profit margin margin_free margin_level comment "
    "request")
TradePosition = namedtuple(
    "TradePosition", "ticket time time_msc time_update time_update_msc type magic identifier "
    "reason volume price_open sl tp price_current swap profit symbol comment external_id")
TradeDeal = namedtuple(
    "TradeDeal", "ticket order time time_msc type entry magic position_id reason volume price "
    "commission swap profit fee symbol comment external_id")
TradeOrder = namedtuple(
    "TradeOrder", "ticket time_setup time_setup_msc time_done time_done_msc time_expiration "
    "type type_time type_filling state magic position_id position_by_id reason volume_initial "
    "volume_current price_open sl tp price_current price_stoplimit symbol comment external_id")
AccountInfo = namedtuple(
    "AccountInfo", "login trade_mode leverage limit_orders margin_so_mode trade_allowed "
    "trade_expert margin_mode currency_digits fifo_close balance credit profit equity margin "
    "margin_free margin_level margin_so_call margin_so_so margin_initial margin_maintenance "
    "assets liabilities commission_blocked name server currency company")
TerminalInfo = namedtuple(
    "TerminalInfo", "community_account community_connection connected dlls_allowed "
    "trade_allowed tradeapi_disabled email_enabled ftp_enabled notifications_enabled mqid build "
    "maxbars codepage ping_last community_balance retransmission company name language path "
    "data_path commondata_path")

PLAIN = (int, float, str)
REQUEST_DEFAULTS = dict.fromkeys(TradeRequest._fields, 0) | {"symbol": "", "comment": "",
                                                              "volume": 0.0, "price": 0.0,
                                                              "stoplimit": 0.0, "sl": 0.0,
                                                              "tp": 0.0}
CHECK_OK = (0, "Done")
FAULT_CODES = {"requote": rc.REQUOTE, "price_changed": rc.PRICE_CHANGED,
               "off_quotes": rc.PRICE_OFF}
FAULT_KINDS = ("disconnect", "timeout", "requote", "price_changed", "off_quotes", "partial",
               "reject")


class Refused(Exception):
    """A request the server refuses with ``retcode`` (internal control flow)."""

    def __init__(self, retcode: int, comment: str = "") -> None:
        super().__init__(comment)
        self.retcode = retcode
        self.comment = comment or rc.meaning(retcode)


@dataclass
class Fault:
    """One scripted answer of ``order_send``. ``kind`` is one of :data:`FAULT_KINDS`.

    - ``disconnect``: the link drops before the request leaves: ``None``, last_error IPC,
      nothing executed, every call fails until ``initialize`` again;
    - ``timeout``: the order EXECUTES but the answer is lost: ``None`` with an IPC timeout
      (``answer=None``) or a result with ``answer`` (10012 timeout, 10031, 10011);
      ``executed=False`` makes the same answer for an order that did not execute;
    - ``requote`` / ``price_changed`` / ``off_quotes``: nothing executed; the quote moves by
      ``shift_points`` first (so only a fresh price is accepted next time);
    - ``partial``: ``fraction`` of the volume (down to the step) fills, retcode 10010;
    - ``reject``: refused with ``answer`` (10016, 10019, 10018, 10014, 10030...).
    """

    kind: str
    answer: int | None = None
    executed: bool = True
    shift_points: int = 0
    fraction: Decimal = Decimal("0.5")


@dataclass
class Executed:
    """An order the simulated server executed: ``source`` is ``order_send``, ``hand``,
    ``stop_loss`` or ``take_profit``."""

    order: int
    deal: int
    source: str
    request: dict[str, Any] | None


@dataclass
class Position:
    ticket: int
    symbol: str
    type: int
    volume: Decimal
    price_open: Decimal
    sl: Decimal | None
    tp: Decimal | None
    magic: int
    comment: str
    reason: int
    time: pd.Timestamp
    time_update: pd.Timestamp
    checked_from: pd.Timestamp          # the first bar still to search for SL/TP
    swap: Decimal = Decimal("0")

    @property
    def side(self) -> int:
        return 1 if self.type == c.POSITION_TYPE_BUY else -1


@dataclass
class Account:
    login: int = 0
    balance: Decimal = Decimal("10000.00")
    leverage: int = 100
    currency: str = "USD"
    name: str = "Simulated"
    server: str = "Simulator-Demo"
    company: str = "NusaTrade simulator"
    commission_per_lot: Decimal = Decimal("0")     # charged on each fill, per lot


@dataclass
class Book:
    positions: dict[int, Position] = field(default_factory=dict)
    deals: list[TradeDeal] = field(default_factory=list)
    orders: list[TradeOrder] = field(default_factory=list)
    closed: set[int] = field(default_factory=set)
    executed: list[Executed] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    tickets: itertools.count = field(default_factory=lambda: itertools.count(100_001))


def round_down(volume: Decimal, step: Decimal) -> Decimal:
    return (volume / step).to_integral_value(rounding=ROUND_DOWN) * step


def opposite(order_type: int) -> int:
    return c.ORDER_TYPE_SELL if order_type == c.ORDER_TYPE_BUY else c.ORDER_TYPE_BUY


def group_match(symbol: str, group: str) -> bool:
    """MT5's ``group`` filter: comma-separated masks with ``*``; ``!mask`` excludes."""
    selected = False
    for mask in (part.strip() for part in group.split(",") if part.strip()):
        if mask.startswith("!"):
            if fnmatchcase(symbol, mask[1:]):
                selected = False
        elif fnmatchcase(symbol, mask):
            selected = True
    return selected
