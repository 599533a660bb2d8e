"""The broker interface every implementation follows (pure: no Django).

Two halves on one client: market data (closed bars, contract facts) and trading (account,
tick, positions, market orders, SL/TP changes, closes, deal/order history, and the look-up of
an order by its client id). Nothing outside ``trading/brokers/`` talks to a broker.

Identity of our orders at a broker: MetaTrader's ``order_send`` has no client order id, so every
order NusaTrade sends carries ``magic`` (one number per NusaTrade deployment) and a short ASCII
``client_id`` in its comment (:func:`client_id_for`, derived from the Order's idempotency key).
Positions and deals carry both back, which is how an order whose outcome was unknown is found
again (:meth:`BrokerClient.find_order`) instead of being sent twice.

Everything money or price is ``Decimal``; times are timezone-aware UTC.
"""

from __future__ import annotations

import hashlib
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from types import TracebackType

import pandas as pd

from marketdata import calendar, timeframes
from nusatrade.errors import DataError
from trading.pnl import InstrumentSpec

Clock = Callable[[], datetime]
BAR_COLUMNS = ["open", "high", "low", "close", "volume", "spread"]
MAX_BARS_PER_REQUEST = 100_000


def utc_now() -> datetime:
    """The wall clock, timezone-aware UTC (the default clock of every broker)."""
    return datetime.now(UTC)


# MetaTrader's comment field holds 31 characters; brokers may cut it shorter, so keep ours short.
COMMENT_LENGTH = 31
CLIENT_ID_LENGTH = 20
CLIENT_ID_PREFIX = "NT"


def client_id_for(idempotency_key: str) -> str:
    """The short ASCII id an order carries in its comment: ``NT`` + 18 hex digits of the
    SHA-256 of its idempotency key (stable across retries and restarts, 72 bits: collisions are
    not a practical concern for one account's orders)."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()
    return CLIENT_ID_PREFIX + digest[: CLIENT_ID_LENGTH - len(CLIENT_ID_PREFIX)]


# Rules every broker applies the same way (MT5 and the paper broker call these, so a caller
# sees one behaviour whichever broker an account uses).
def validate_identity(client_id: str, magic: int) -> None:
    """Our identity at the broker must survive the round trip, or a lost answer could never be
    looked up: a short ASCII id without spaces and a positive magic (0 is MT5's "by hand")."""
    if (not isinstance(client_id, str) or not client_id or not client_id.isascii()
            or " " in client_id or len(client_id) > COMMENT_LENGTH):
        raise DataError(f"client id {client_id!r} must be 1-{COMMENT_LENGTH} ASCII "
                        "characters without spaces", column="client_id")
    if isinstance(magic, bool) or not isinstance(magic, int) or not 0 < magic < 2**63:
        raise DataError(f"magic {magic!r} must be a positive integer (0 marks orders placed by "
                        "hand)", column="magic")


def normalise_level(spec: InstrumentSpec, level: Decimal | None) -> Decimal | None:
    """An SL/TP on the quote grid (``digits`` decimals); None or 0 means none."""
    if level is None or level == 0:
        return None
    if not isinstance(level, Decimal) or not level.is_finite() or level < 0:
        raise DataError(f"SL/TP {level!r} must be a positive finite price", column="sl/tp")
    return spec.round_price(level)


class VolumeProblem(StrEnum):
    """Why a volume cannot be traded (:func:`volume_problem`); each caller words it its own way."""

    NOT_POSITIVE = "not_positive"
    BELOW_MIN = "below_min"
    ABOVE_MAX = "above_max"
    OFF_STEP = "off_step"


def volume_problem(spec: InstrumentSpec, volume: Decimal) -> VolumeProblem | None:
    """THE volume rule (order validation, the paper broker and the MT5 adapter all use it): a
    positive finite number of lots within ``volume_min..volume_max`` and a whole multiple of
    ``volume_step``, as MetaTrader's server checks it (``None``: tradable)."""
    if not isinstance(volume, Decimal) or not volume.is_finite() or volume <= 0:
        return VolumeProblem.NOT_POSITIVE
    if volume < spec.volume_min:
        return VolumeProblem.BELOW_MIN
    if volume > spec.volume_max:
        return VolumeProblem.ABOVE_MAX
    if volume % spec.volume_step:
        return VolumeProblem.OFF_STEP
    return None


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 BUY, -1 SELL (``trading.pnl.Side``'s value)."""
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderState(StrEnum):
    """What a broker call ended in (the Order row's status follows it)."""

    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    REJECTED = "rejected"        # a terminal refusal: never retry the same request
    UNKNOWN = "unknown"          # no answer / timeout / no connection: look it up, never resend


class DealEntry(StrEnum):
    """MT5's ``DEAL_ENTRY_*``: a deal opens (in), closes (out) or reverses (inout) a position."""

    IN = "in"
    OUT = "out"
    INOUT = "inout"
    OUT_BY = "out_by"


class DealReason(StrEnum):
    """Why a deal happened (MT5's ``DEAL_REASON_*``, the ones that matter to us)."""

    CLIENT = "client"            # placed by hand in a terminal
    EXPERT = "expert"            # placed by a program (us, or another EA)
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    STOP_OUT = "stop_out"
    OTHER = "other"


@dataclass(frozen=True)
class AccountInfo:
    """The broker account's money, in ``currency``. ``margin_level`` is a percent, ``None``
    with no position open (MT5 shows none)."""

    login: str
    currency: str
    balance: Decimal
    equity: Decimal
    margin: Decimal
    margin_free: Decimal
    margin_level: Decimal | None
    leverage: int
    server: str = ""


@dataclass(frozen=True)
class Tick:
    """The latest quote. A BUY fills at the ask, a SELL at the bid."""

    symbol: str
    time: datetime
    bid: Decimal
    ask: Decimal

    def price_for(self, side: OrderSide) -> Decimal:
        """The price an order of ``side`` opens at (ask for BUY, bid for SELL)."""
        return self.ask if side is OrderSide.BUY else self.bid


@dataclass(frozen=True)
class MarketOrder:
    """A market order request. With ``position_ticket`` it closes (fully or for ``volume``)
    that position instead of opening one. ``deviation`` is the accepted slippage in points."""

    symbol: str
    side: OrderSide
    volume: Decimal
    client_id: str
    magic: int
    sl: Decimal | None = None
    tp: Decimal | None = None
    position_ticket: int | None = None
    deviation: int = 20
    comment: str = ""


@dataclass(frozen=True)
class OrderOutcome:
    """What became of one order request at the broker.

    ``retcode`` is the broker's code (MT5 ``TRADE_RETCODE_*``; the paper broker uses the same
    numbers), ``message`` its meaning in words. ``attempts`` counts the sends, re-pricing
    retries included. For UNKNOWN nothing else is known; the caller must ``find_order``.
    """

    state: OrderState
    retcode: int | None
    message: str
    client_id: str
    order_ticket: int | None = None
    deal_ticket: int | None = None
    position_ticket: int | None = None
    volume: Decimal = Decimal("0")          # filled volume
    price: Decimal | None = None            # average fill price
    time: datetime | None = None
    attempts: int = 1
    retries: tuple[str, ...] = field(default_factory=tuple)   # one line per retried send


@dataclass(frozen=True)
class BrokerPosition:
    """An open position at the broker. ``profit`` is the floating P/L at ``price_current``."""

    ticket: int
    symbol: str
    side: OrderSide
    volume: Decimal
    price_open: Decimal
    sl: Decimal | None
    tp: Decimal | None
    price_current: Decimal
    profit: Decimal
    swap: Decimal
    magic: int
    client_id: str            # the comment it was opened with ("" if none)
    time: datetime


@dataclass(frozen=True)
class BrokerDeal:
    """One fill in the broker's deal history (money in the account currency)."""

    ticket: int
    order_ticket: int
    position_ticket: int
    symbol: str
    side: OrderSide
    entry: DealEntry
    volume: Decimal
    price: Decimal
    profit: Decimal
    commission: Decimal
    swap: Decimal
    fee: Decimal
    magic: int
    client_id: str
    reason: DealReason
    time: datetime


@dataclass(frozen=True)
class BrokerOrderRecord:
    """One order in the broker's order history."""

    ticket: int
    position_ticket: int
    symbol: str
    side: OrderSide
    volume_initial: Decimal
    volume_filled: Decimal
    price: Decimal | None
    state: str                # the broker's order state in words ("filled", "rejected", ...)
    magic: int
    client_id: str
    time: datetime


def validate_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or not (
            1 <= count <= MAX_BARS_PER_REQUEST):
        raise ValueError(f"count must be an integer from 1 to {MAX_BARS_PER_REQUEST}")
    return int(count)


def empty_bars() -> pd.DataFrame:
    index = pd.DatetimeIndex([], name="time").as_unit("us").tz_localize("UTC")
    return pd.DataFrame({c: pd.Series([], dtype="float64") for c in BAR_COLUMNS}, index=index)


def only_closed(frame: pd.DataFrame, timeframe: str, now: datetime) -> pd.DataFrame:
    """The bars of ``frame`` whose period has ended at ``now`` (open + timeframe <= now)."""
    delta = timeframes.get(timeframe).delta
    return frame[frame.index + delta <= calendar.to_utc_timestamp(now)]


def check_bars(frame: pd.DataFrame, timeframe: str, now: datetime) -> pd.DataFrame:
    """Raise DataError if ``frame`` breaks the bars convention or holds a still-forming bar."""
    if not isinstance(frame.index, pd.DatetimeIndex) or str(frame.index.tz) != "UTC":
        raise DataError("broker bars need a UTC DatetimeIndex", column="time")
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise DataError("broker bars must be strictly increasing in time", column="time")
    forming = len(frame) - len(only_closed(frame, timeframe, now))
    if forming:
        raise DataError(f"broker returned {forming} {timeframe} bar(s) still forming at "
                        f"{calendar.to_utc_timestamp(now).isoformat()}", column="time")
    return frame


class BrokerClient(ABC):
    """A connection to one broker account (or the paper simulation of one)."""

    name: str = "broker"
    # True when the bars are generated rather than market data: stored with synthetic=True.
    synthetic: bool = False

    @abstractmethod
    def latest_closed_bars(self, symbol: str, timeframe: str, count: int) -> pd.DataFrame:
        """Up to ``count`` most recent CLOSED bars, oldest first, in the bars convention (UTC
        "time" index of open times; float64 open high low close volume spread). Never the
        still-forming bar."""

    @abstractmethod
    def symbol_info(self, symbol: str) -> InstrumentSpec:
        """The broker's contract facts for ``symbol`` (BrokerError if it has none)."""

    # -- trading -----------------------------------------------------------------------------
    @abstractmethod
    def account_info(self) -> AccountInfo:
        """Balance, equity, margin, free margin, margin level, currency, leverage."""

    @abstractmethod
    def tick(self, symbol: str) -> Tick:
        """The current bid/ask of ``symbol`` (BrokerError if none)."""

    @abstractmethod
    def positions(self, symbol: str | None = None) -> list[BrokerPosition]:
        """Every open position of the account (ours and others': filter by ``magic``)."""

    @abstractmethod
    def place_market_order(self, order: MarketOrder) -> OrderOutcome:
        """Send a market order. Never raises for a broker refusal or an unknown outcome: those
        come back as REJECTED / UNKNOWN outcomes. Raises only for a programming error
        (DataError: a malformed client id, magic or price), a ConfigurationError, or a
        BrokerError / TemporaryBrokerError when NOTHING was sent (the broker was unreachable
        before the send), so retrying then is safe. Re-pricing retries (requote, price
        changed, off quotes) happen inside, bounded; terminal codes are never retried; an
        unknown outcome is looked up by client id before this returns, and never resent
        blindly. With ``position_ticket`` it is :meth:`close_position`."""

    @abstractmethod
    def modify_position(self, ticket: int, sl: Decimal | None, tp: Decimal | None,
                        *, client_id: str = "", magic: int = 0) -> OrderOutcome:
        """Set a position's SL/TP (``None``: remove it)."""

    @abstractmethod
    def close_position(self, ticket: int, *, client_id: str, magic: int,
                       volume: Decimal | None = None) -> OrderOutcome:
        """Close ``volume`` (default: all) of a position at market."""

    @abstractmethod
    def deals(self, start: datetime, end: datetime) -> list[BrokerDeal]:
        """Deal history with ``start <= time < end``, oldest first."""

    @abstractmethod
    def history_orders(self, start: datetime, end: datetime) -> list[BrokerOrderRecord]:
        """Order history with ``start <= time < end``, oldest first."""

    def find_order(self, client_id: str, magic: int, since: datetime) -> OrderOutcome | None:
        """Our order with ``client_id`` (and ``magic``) if the broker has it: a deal in the
        history since ``since`` (opening or closing: one client id is one order) or an open
        position carrying it. ``None``: the broker has no trace of it (yet). The recovery step
        of every unknown outcome."""
        deals = [d for d in self.deals(since, utc_now()) if d.client_id == client_id
                 and d.magic == magic]
        if deals:
            volume = sum((d.volume for d in deals), Decimal("0"))
            price = sum((d.price * d.volume for d in deals), Decimal("0")) / volume
            last = deals[-1]
            return OrderOutcome(
                state=OrderState.FILLED, retcode=None, message="found in deal history",
                client_id=client_id, order_ticket=last.order_ticket, deal_ticket=last.ticket,
                position_ticket=last.position_ticket, volume=volume, price=price,
                time=last.time)
        for position in self.positions():
            if position.client_id == client_id and position.magic == magic:
                return OrderOutcome(
                    state=OrderState.FILLED, retcode=None, message="found as open position",
                    client_id=client_id, position_ticket=position.ticket,
                    volume=position.volume, price=position.price_open, time=position.time)
        return None

    def close(self) -> None:  # noqa: B027 - optional hook: most brokers hold nothing
        """Release the connection (idempotent)."""

    def __enter__(self) -> BrokerClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
