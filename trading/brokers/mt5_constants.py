"""The ``MetaTrader5`` module's trading constants, with the real module's names and values
(pure: no Django). The adapter builds requests from these plain ints rather than reading them
off the injected module: over mt5linux every attribute read is a network round trip, and a
request must hold plain Python values only.

Values: MetaQuotes' Python integration reference (``ORDER_TYPE_*``, ``TRADE_ACTION_*``,
``ORDER_FILLING_*``, ``DEAL_*``, ``POSITION_*``, ``ORDER_STATE_*``, ``SYMBOL_FILLING_*``).
``TRADE_RETCODE_*`` come from :mod:`trading.brokers.retcodes`.
"""

from __future__ import annotations

from trading.brokers import retcodes

# MetaTrader's comment field: 31 characters; the terminal cuts longer ones (defined once).
from trading.brokers.base import COMMENT_LENGTH  # noqa: F401 - re-exported

ORDER_TYPE_BUY = 0
ORDER_TYPE_SELL = 1
ORDER_TYPE_BUY_LIMIT = 2
ORDER_TYPE_SELL_LIMIT = 3
ORDER_TYPE_BUY_STOP = 4
ORDER_TYPE_SELL_STOP = 5
ORDER_TYPE_BUY_STOP_LIMIT = 6
ORDER_TYPE_SELL_STOP_LIMIT = 7
ORDER_TYPE_CLOSE_BY = 8

TRADE_ACTION_DEAL = 1
TRADE_ACTION_PENDING = 5
TRADE_ACTION_SLTP = 6
TRADE_ACTION_MODIFY = 7
TRADE_ACTION_REMOVE = 8
TRADE_ACTION_CLOSE_BY = 10

ORDER_FILLING_FOK = 0
ORDER_FILLING_IOC = 1
ORDER_FILLING_RETURN = 2
ORDER_FILLING_BOC = 3

ORDER_TIME_GTC = 0
ORDER_TIME_DAY = 1
ORDER_TIME_SPECIFIED = 2
ORDER_TIME_SPECIFIED_DAY = 3

# symbol_info().filling_mode is a bit mask of these (RETURN has no bit: see filling_for).
SYMBOL_FILLING_FOK = 1
SYMBOL_FILLING_IOC = 2

SYMBOL_TRADE_EXECUTION_REQUEST = 0
SYMBOL_TRADE_EXECUTION_INSTANT = 1
SYMBOL_TRADE_EXECUTION_MARKET = 2
SYMBOL_TRADE_EXECUTION_EXCHANGE = 3

DEAL_TYPE_BUY = 0
DEAL_TYPE_SELL = 1
DEAL_TYPE_BALANCE = 2

DEAL_ENTRY_IN = 0
DEAL_ENTRY_OUT = 1
DEAL_ENTRY_INOUT = 2
DEAL_ENTRY_OUT_BY = 3

DEAL_REASON_CLIENT = 0
DEAL_REASON_MOBILE = 1
DEAL_REASON_WEB = 2
DEAL_REASON_EXPERT = 3
DEAL_REASON_SL = 4
DEAL_REASON_TP = 5
DEAL_REASON_SO = 6
DEAL_REASON_ROLLOVER = 7
DEAL_REASON_VMARGIN = 8
DEAL_REASON_SPLIT = 9

POSITION_TYPE_BUY = 0
POSITION_TYPE_SELL = 1

POSITION_REASON_CLIENT = 0
POSITION_REASON_MOBILE = 1
POSITION_REASON_WEB = 2
POSITION_REASON_EXPERT = 3

ORDER_STATE_STARTED = 0
ORDER_STATE_PLACED = 1
ORDER_STATE_CANCELED = 2
ORDER_STATE_PARTIAL = 3
ORDER_STATE_FILLED = 4
ORDER_STATE_REJECTED = 5
ORDER_STATE_EXPIRED = 6
ORDER_STATE_REQUEST_ADD = 7
ORDER_STATE_REQUEST_MODIFY = 8
ORDER_STATE_REQUEST_CANCEL = 9

ORDER_REASON_CLIENT = 0
ORDER_REASON_MOBILE = 1
ORDER_REASON_WEB = 2
ORDER_REASON_EXPERT = 3
ORDER_REASON_SL = 4
ORDER_REASON_TP = 5
ORDER_REASON_SO = 6

ORDER_STATE_NAMES = {
    ORDER_STATE_STARTED: "started", ORDER_STATE_PLACED: "placed",
    ORDER_STATE_CANCELED: "canceled", ORDER_STATE_PARTIAL: "partial",
    ORDER_STATE_FILLED: "filled", ORDER_STATE_REJECTED: "rejected",
    ORDER_STATE_EXPIRED: "expired", ORDER_STATE_REQUEST_ADD: "request_add",
    ORDER_STATE_REQUEST_MODIFY: "request_modify", ORDER_STATE_REQUEST_CANCEL: "request_cancel",
}


TRADE_RETCODES: dict[str, int] = {
    f"TRADE_RETCODE_{name}": value for name, value in vars(retcodes).items()
    if name.isupper() and isinstance(value, int) and value in retcodes.MEANINGS
}
CONSTANTS: dict[str, int] = {
    name: value for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, int) and not name.startswith("COMMENT")
} | TRADE_RETCODES


def filling_for(filling_modes: int) -> int:
    """The ``type_filling`` of a market order for a symbol whose ``filling_mode`` mask is
    ``filling_modes``: Fill-or-Kill when allowed (all or nothing: no partial position to
    reconcile), else Immediate-or-Cancel, else Return (allowed for market-execution symbols,
    which set neither bit)."""
    if filling_modes & SYMBOL_FILLING_FOK:
        return ORDER_FILLING_FOK
    if filling_modes & SYMBOL_FILLING_IOC:
        return ORDER_FILLING_IOC
    return ORDER_FILLING_RETURN
