"""MetaTrader 5 trade return codes (``TRADE_RETCODE_*``), their meaning and our policy for each
(pure). The paper broker answers with the same numbers, so one table serves every broker.

Policy (../shared/RELIABILITY.md):

- ``DONE``: the request executed (fully, partly, or a pending order was placed): record it.
- ``REPRICE``: requote / price changed / off quotes, or the server is busy: nothing executed;
  send again with a FRESH price, a bounded number of times with backoff, logging each code.
- ``UNKNOWN``: no answer, timeout, no connection, a processing error: the order may or may not
  have executed. Never resend blindly: look the client id up in positions and deal history.
- ``TERMINAL``: refused for a reason a resend cannot fix (invalid volume or stops, market
  closed, no money, unsupported filling, trading disabled...): reject with code and meaning.
"""

from __future__ import annotations

from enum import StrEnum


class Policy(StrEnum):
    DONE = "done"
    REPRICE = "reprice"
    UNKNOWN = "unknown"
    TERMINAL = "terminal"


REQUOTE = 10004
REJECT = 10006
CANCEL = 10007
PLACED = 10008
DONE = 10009
DONE_PARTIAL = 10010
ERROR = 10011
TIMEOUT = 10012
INVALID = 10013
INVALID_VOLUME = 10014
INVALID_PRICE = 10015
INVALID_STOPS = 10016
TRADE_DISABLED = 10017
MARKET_CLOSED = 10018
NO_MONEY = 10019
PRICE_CHANGED = 10020
PRICE_OFF = 10021
INVALID_EXPIRATION = 10022
ORDER_CHANGED = 10023
TOO_MANY_REQUESTS = 10024
NO_CHANGES = 10025
SERVER_DISABLES_AT = 10026
CLIENT_DISABLES_AT = 10027
LOCKED = 10028
FROZEN = 10029
INVALID_FILL = 10030
CONNECTION = 10031
ONLY_REAL = 10032
LIMIT_ORDERS = 10033
LIMIT_VOLUME = 10034
INVALID_ORDER = 10035
POSITION_CLOSED = 10036
INVALID_CLOSE_VOLUME = 10038
CLOSE_ORDER_EXIST = 10039
LIMIT_POSITIONS = 10040
REJECT_CANCEL = 10041
LONG_ONLY = 10042
SHORT_ONLY = 10043
CLOSE_ONLY = 10044
FIFO_CLOSE = 10045
HEDGE_PROHIBITED = 10046

MEANINGS: dict[int, str] = {
    REQUOTE: "Requote",
    REJECT: "Request rejected",
    CANCEL: "Request canceled by trader",
    PLACED: "Order placed",
    DONE: "Request completed",
    DONE_PARTIAL: "Only part of the request was completed",
    ERROR: "Request processing error",
    TIMEOUT: "Request canceled by timeout",
    INVALID: "Invalid request",
    INVALID_VOLUME: "Invalid volume in the request",
    INVALID_PRICE: "Invalid price in the request",
    INVALID_STOPS: "Invalid stops in the request",
    TRADE_DISABLED: "Trade is disabled",
    MARKET_CLOSED: "Market is closed",
    NO_MONEY: "There is not enough money to complete the request",
    PRICE_CHANGED: "Prices changed",
    PRICE_OFF: "There are no quotes to process the request",
    INVALID_EXPIRATION: "Invalid order expiration date in the request",
    ORDER_CHANGED: "Order state changed",
    TOO_MANY_REQUESTS: "Too frequent requests",
    NO_CHANGES: "No changes in request",
    SERVER_DISABLES_AT: "Autotrading disabled by server",
    CLIENT_DISABLES_AT: "Autotrading disabled by client terminal",
    LOCKED: "Request locked for processing",
    FROZEN: "Order or position frozen",
    INVALID_FILL: "Invalid order filling type",
    CONNECTION: "No connection with the trade server",
    ONLY_REAL: "Operation is allowed only for live accounts",
    LIMIT_ORDERS: "The number of pending orders has reached the limit",
    LIMIT_VOLUME: "The volume of orders and positions for the symbol has reached the limit",
    INVALID_ORDER: "Incorrect or prohibited order type",
    POSITION_CLOSED: "Position with the specified identifier has already been closed",
    INVALID_CLOSE_VOLUME: "A close volume exceeds the current position volume",
    CLOSE_ORDER_EXIST: "A close order already exists for the position",
    LIMIT_POSITIONS: "The number of open positions has reached the limit",
    REJECT_CANCEL: "The pending order activation request is rejected, the order is canceled",
    LONG_ONLY: "Only long positions are allowed for the symbol",
    SHORT_ONLY: "Only short positions are allowed for the symbol",
    CLOSE_ONLY: "Only position closing is allowed for the symbol",
    FIFO_CLOSE: "Position closing is allowed only by FIFO rule",
    HEDGE_PROHIBITED: "Opposite positions on a single symbol are disabled",
}

_DONE = frozenset({PLACED, DONE, DONE_PARTIAL})
_REPRICE = frozenset({REQUOTE, PRICE_CHANGED, PRICE_OFF, TOO_MANY_REQUESTS, LOCKED})
_UNKNOWN = frozenset({ERROR, TIMEOUT, CONNECTION})


def policy(retcode: int | None) -> Policy:
    """What to do with an answer: ``None`` (no answer at all) is UNKNOWN, an unlisted code is
    TERMINAL (never retry what we do not understand)."""
    if retcode is None or retcode in _UNKNOWN:
        return Policy.UNKNOWN
    if retcode in _DONE:
        return Policy.DONE
    if retcode in _REPRICE:
        return Policy.REPRICE
    return Policy.TERMINAL


def meaning(retcode: int | None) -> str:
    """The code's meaning in words ("no answer from the broker" for ``None``)."""
    if retcode is None:
        return "no answer from the broker"
    return MEANINGS.get(retcode, f"unknown return code {retcode}")


def markdown_table() -> str:
    """The retcode table of docs/trading.md (``python -m trading.brokers.retcodes``)."""
    lines = ["| code | name | meaning | policy |", "|---:|---|---|---|"]
    names = {value: name for name, value in globals().items()
             if name.isupper() and isinstance(value, int)}
    for code in sorted(MEANINGS):
        lines.append(f"| {code} | `TRADE_RETCODE_{names[code]}` | {MEANINGS[code]} | "
                     f"{policy(code).value} |")
    lines.append("| none | `None` (no answer) | no answer from the broker | unknown |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
