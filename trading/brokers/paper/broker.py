"""``PaperBroker``: the embedded default broker (pure: no Django; the account's book comes from
an injected :class:`~trading.brokers.paper.book.PaperStore`, stored bars from an injected
loader).

Market data: the stored series, continued synthetically up to the clock. Determinism: the
continuation after the last stored bar is ``marketdata.synthetic`` seeded from (symbol,
timeframe, the continuation's first bar time), starting at the last stored close. A longer
continuation starts with exactly the bars of a shorter one, so asking again later, with or
without storing in between, never gives a different value for a bar already served; that is
what keeps ``bars_upsert`` free of conflicts. With no stored bars at all the series starts on
Jan 1 of the year of the first bar needed, at the symbol profile's typical price.

Trading (docs/trading.md, "The paper broker"): the price at the clock is the OPEN of the bar
containing the clock (bid; ask = bid + spread), so a decision taken at bar t's close fills at
bar t+1's open, as in the backtester. Before answering anything the account is brought up to
the clock: each bar closed since the last one processed applies SL/TP (``trading.fills``),
swap nights and the stop-out rule, in time order.
"""

from __future__ import annotations

import contextvars
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from marketdata import calendar, synthetic, timeframes
from nusatrade.errors import BrokerError, ConfigurationError
from trading import pnl
from trading.brokers import retcodes
from trading.brokers.base import (
    BAR_COLUMNS,
    MAX_BARS_PER_REQUEST,
    AccountInfo,
    BrokerClient,
    BrokerDeal,
    BrokerOrderRecord,
    BrokerPosition,
    Clock,
    DealReason,
    InstrumentSpec,
    MarketOrder,
    OrderOutcome,
    OrderSide,
    OrderState,
    Tick,
    empty_bars,
    normalise_level,
    utc_now,
    validate_count,
    validate_identity,
)
from trading.brokers.paper import checks, ledger
from trading.brokers.paper.book import PaperBook, PaperPosition, PaperSettings, PaperStore
from trading.brokers.paper.ledger import Bar, Quote
from trading.pnl import to_decimal

# (symbol, timeframe, until, count) -> stored bars with time <= until (at least the last
# ``count`` of them when there are that many), oldest first, bars convention.
HistoryLoader = Callable[[str, str, pd.Timestamp, int], pd.DataFrame]
DEFAULT_SETTINGS = PaperSettings(login="paper")
# The quotes read during one broker call (each symbol's price at the clock is read once per
# call, not once per use; a later call reads again, so newly stored bars are seen).
_CALL_QUOTES: contextvars.ContextVar[dict | None] = contextvars.ContextVar("paper_quotes",
                                                                          default=None)


class PaperBroker(BrokerClient):
    """Simulated market data (bars are stored with ``synthetic=True``) and, with a ``store``, a
    simulated account trading on them."""

    name = "paper"
    synthetic = True

    def __init__(self, specs: Mapping[str, InstrumentSpec], *, history: HistoryLoader | None = None,
                 clock: Clock = utc_now, holidays: Iterable[date] | None = None,
                 seed: int = 0, store: PaperStore | None = None) -> None:
        self._specs = dict(specs)
        self._history = history
        self._clock = clock
        self._holidays = tuple(holidays) if holidays is not None else None
        self._seed = seed
        self._store = store

    # -- market data ---------------------------------------------------------------------------
    def symbol_info(self, symbol: str) -> InstrumentSpec:
        try:
            return self._specs[symbol]
        except KeyError:
            raise BrokerError(f"paper broker: unknown symbol {symbol!r}") from None

    def _holidays_around(self, now: pd.Timestamp) -> tuple[date, ...]:
        if self._holidays is not None:
            return self._holidays
        return calendar.default_holidays(now.year - 1, now.year + 1)

    def latest_closed_bars(self, symbol: str, timeframe: str, count: int) -> pd.DataFrame:
        tf = timeframes.get(timeframe)
        count = validate_count(count)
        self.symbol_info(symbol)
        now = calendar.to_utc_timestamp(self._clock())
        last = calendar.last_closed_bar(now, tf.name, self._holidays_around(now))
        if last is None:
            return empty_bars()
        return self._series(symbol, tf, last, count)

    def _series(self, symbol: str, tf: timeframes.Timeframe, last: pd.Timestamp,
                count: int) -> pd.DataFrame:
        """Up to ``count`` bars opening at or before ``last``: stored, then continued."""
        stored = self._stored(symbol, tf.name, last, count)
        if len(stored) and stored.index[-1] >= last:
            return stored.tail(count)
        continuation = self._continue(symbol, tf, stored, last, count)
        frames = [f for f in (stored, continuation) if len(f)]
        return pd.concat(frames).tail(count) if frames else empty_bars()

    def _stored(self, symbol: str, timeframe: str, last: pd.Timestamp,
                count: int) -> pd.DataFrame:
        if self._history is None:
            return empty_bars()
        frame = self._history(symbol, timeframe, last, count)
        frame = frame[frame.index <= last].reindex(columns=BAR_COLUMNS)
        return frame.astype("float64")

    def _continue(self, symbol: str, tf: timeframes.Timeframe, stored: pd.DataFrame,
                  last: pd.Timestamp, count: int) -> pd.DataFrame:
        if len(stored):
            start = stored.index[-1] + tf.delta
            price = float(stored["close"].iloc[-1])
        else:
            earliest = last - tf.delta * int(count * 1.5) - pd.Timedelta(days=14)
            start = pd.Timestamp(year=earliest.year, month=1, day=1, tz="UTC")
            price = synthetic.profile_for(symbol).typical_price
        key = f"{symbol}|{tf.name}|{start.isoformat()}".encode()
        seed = zlib.crc32(key) ^ (self._seed & 0xFFFFFFFF)
        return synthetic.generate_range(start, last + tf.delta, tf.name, seed, symbol=symbol,
                                        start_price=price, holidays=self._holidays)

    # -- prices --------------------------------------------------------------------------------
    def _spread(self, settings: PaperSettings, spec: InstrumentSpec, points: float) -> Decimal:
        if settings.spread_from_bars:
            return spec.points(to_decimal(float(points)))
        return spec.pips(settings.spread_pips)

    def _bar(self, settings: PaperSettings, spec: InstrumentSpec, time: pd.Timestamp,
             row: pd.Series) -> Bar:
        def price(column: str) -> Decimal:
            return spec.round_price(to_decimal(float(row[column])))

        return Bar(symbol=spec.symbol, time=time.to_pydatetime(), open=price("open"),
                   high=price("high"), low=price("low"), close=price("close"),
                   spread=self._spread(settings, spec, row["spread"]))

    def _quote(self, settings: PaperSettings, symbol: str, now: datetime) -> Quote:
        """Bid/spread at the clock: the open of the bar containing ``now`` (the forming bar:
        nothing but its open is read), stored or continued like :meth:`latest_closed_bars`.
        With no such bar (the market is closed) the last close before it."""
        cache = _CALL_QUOTES.get()
        key = (symbol, now, settings)
        if cache is not None and key in cache:
            return cache[key]
        quote = self._read_quote(settings, symbol, now)
        if cache is not None:
            cache[key] = quote
        return quote

    def _read_quote(self, settings: PaperSettings, symbol: str, now: datetime) -> Quote:
        spec = self.symbol_info(symbol)
        tf = timeframes.get(settings.timeframe)
        current = calendar.to_utc_timestamp(now).floor(tf.delta)
        frame = self._series(symbol, tf, current, 2)
        if not len(frame):
            raise BrokerError(f"paper broker: no price for {symbol} at {now.isoformat()}")
        time, row = frame.index[-1], frame.iloc[-1]
        bar = self._bar(settings, spec, time, row)
        if time == current:
            return Quote(symbol, now, bar.open, bar.spread)
        return Quote(symbol, now, bar.close, bar.spread)

    def _closed_bars(self, settings: PaperSettings, symbol: str, after: pd.Timestamp,
                     last: pd.Timestamp) -> list[Bar]:
        """Closed bars opening in ``(after, last]``, oldest first."""
        tf = timeframes.get(settings.timeframe)
        expected = calendar.expected_times(after + tf.delta, last + tf.delta, tf.name,
                                           self._holidays_around(last))
        if not len(expected):
            return []
        frame = self._series(symbol, tf, last, min(len(expected) + 1, MAX_BARS_PER_REQUEST))
        frame = frame[frame.index > after]
        spec = self.symbol_info(symbol)
        return [self._bar(settings, spec, t, row) for t, row in frame.iterrows()]

    def tick(self, symbol: str) -> Tick:
        now = self._clock()
        if self._store is None:
            quote = self._quote(DEFAULT_SETTINGS, symbol, now)
        else:
            with self._session() as (book, now):
                quote = self._quote(book.settings, symbol, now)
        return Tick(symbol=symbol, time=now, bid=quote.bid, ask=quote.ask)

    # -- bringing the account up to the clock --------------------------------------------------
    @contextmanager
    def _session(self) -> Iterator[tuple[PaperBook, datetime]]:
        """The account's book, locked and brought up to the clock; saved on exit."""
        if self._store is None:
            raise ConfigurationError("this paper broker has no account store: market data only "
                                     "(build it with trading.brokers.broker_for(account))")
        token = _CALL_QUOTES.set({})
        try:
            with self._store.transaction() as book:
                now = self._clock()
                self._catch_up(book, now)
                yield book, now
        finally:
            _CALL_QUOTES.reset(token)

    def _catch_up(self, book: PaperBook, now: datetime) -> None:
        """Apply every bar closed since ``book.last_bar``: SL/TP, swap nights and stop-out at
        each bar in time order (all symbols held interleaved), then swap and stop-out at the
        clock's prices."""
        settings = book.settings
        stamp = calendar.to_utc_timestamp(now)
        last = calendar.last_closed_bar(stamp, settings.timeframe, self._holidays_around(stamp))
        if book.last_bar is not None and book.positions and last is not None:
            self._replay(book, calendar.to_utc_timestamp(book.last_bar), last)
        if last is not None and (book.last_bar is None or last > book.last_bar):
            book.last_bar = last.to_pydatetime()
        if book.positions:
            ledger.accrue_nights(book, now)
            ledger.stop_out(book, self._specs, self._quotes(book, now), now)

    def _replay(self, book: PaperBook, after: pd.Timestamp, last: pd.Timestamp) -> None:
        settings = book.settings
        delta = timeframes.get(settings.timeframe).delta
        bars: dict[datetime, list[Bar]] = {}
        marks: dict[str, Quote] = {}
        for symbol in sorted({p.symbol for p in book.positions.values()}):
            series = self._closed_bars(settings, symbol, after - delta, last)
            if series and series[0].time <= after:   # the bar already applied: its close marks
                first = series.pop(0)
                marks[symbol] = Quote(symbol, first.time, first.close, first.spread)
            for bar in series:
                bars.setdefault(bar.time, []).append(bar)
        for time in sorted(bars):
            closed_at = time + delta
            for bar in bars[time]:
                ledger.apply_bar(book, self._specs[bar.symbol], bar)
                marks[bar.symbol] = Quote(bar.symbol, closed_at, bar.close, bar.spread)
            if book.positions:
                ledger.accrue_nights(book, closed_at)
            if book.positions and all(p.symbol in marks for p in book.positions.values()):
                ledger.stop_out(book, self._specs, marks, closed_at)

    def _quotes(self, book: PaperBook, now: datetime) -> dict[str, Quote]:
        return {s: self._quote(book.settings, s, now)
                for s in {p.symbol for p in book.positions.values()}}

    # -- account -------------------------------------------------------------------------------
    def account_info(self) -> AccountInfo:
        with self._session() as (book, now):
            numbers = ledger.figures(book, self._specs, self._quotes(book, now))
            settings = book.settings
            return AccountInfo(
                login=settings.login, currency=settings.currency, balance=book.balance,
                equity=numbers.equity, margin=numbers.margin, margin_free=numbers.free,
                margin_level=numbers.level, leverage=settings.leverage, server=settings.server)

    def positions(self, symbol: str | None = None) -> list[BrokerPosition]:
        with self._session() as (book, now):
            quotes = self._quotes(book, now)
            return [self._view(p, quotes[p.symbol]) for p in sorted(
                book.positions.values(), key=lambda p: p.ticket)
                if symbol is None or p.symbol == symbol]

    def _view(self, position: PaperPosition, quote: Quote) -> BrokerPosition:
        spec = self._specs[position.symbol]
        return BrokerPosition(
            ticket=position.ticket, symbol=position.symbol, side=position.side,
            volume=position.volume, price_open=position.price_open, sl=position.sl,
            tp=position.tp, price_current=quote.mark(position.side),
            profit=ledger.floating_profit(position, quote, spec),
            swap=ledger.position_swap(position, spec), magic=position.magic,
            client_id=position.client_id, time=position.time)

    def deals(self, start: datetime, end: datetime) -> list[BrokerDeal]:
        with self._session():
            pass  # SL/TP/stop-out deals due by now are booked first
        return self._store.deals(start, end)  # type: ignore[union-attr]

    def history_orders(self, start: datetime, end: datetime) -> list[BrokerOrderRecord]:
        with self._session():
            pass
        return self._store.orders(start, end)  # type: ignore[union-attr]

    # -- orders --------------------------------------------------------------------------------
    def place_market_order(self, order: MarketOrder) -> OrderOutcome:
        """Open (or, with ``position_ticket``, close) at the price at the clock. A malformed
        client id, magic or SL/TP is the caller's bug: DataError, nothing recorded (as
        MT5Broker). SL/TP are normalised to the symbol's digits; 0 means none."""
        _validate_identity(order.client_id, order.magic)
        spec = self._specs.get(order.symbol)
        if spec is not None:
            order = replace(order, sl=normalise_level(spec, order.sl),
                            tp=normalise_level(spec, order.tp))
        with self._session() as (book, now):
            if order.position_ticket is not None:
                return self._close(book, now, order.position_ticket, order.volume,
                                   order.client_id, order.magic, side=order.side)
            return self._open(book, now, order)

    def open_by_hand(self, symbol: str, side: OrderSide, volume: Decimal, *,
                     sl: Decimal | None = None, tp: Decimal | None = None, magic: int = 0,
                     comment: str = "") -> OrderOutcome:
        """A position opened in the terminal by a person (magic 0 by default, deal reason
        ``client``), as tests and drills need: NusaTrade must never touch it."""
        return self.place_market_order(MarketOrder(symbol=symbol, side=side, volume=volume,
                                                   client_id=comment, magic=magic, sl=sl, tp=tp))

    def _open(self, book: PaperBook, now: datetime, order: MarketOrder) -> OrderOutcome:
        spec = self._specs.get(order.symbol)
        if spec is None:
            return self._rejected(book, now, order, retcodes.INVALID,
                                  f"unknown symbol {order.symbol!r}")
        refusal = checks.refuse_volume(order.volume, spec) or self._refuse_closed(now)
        quote = None if refusal else self._quote(book.settings, order.symbol, now)
        if quote is not None:
            refusal = checks.refuse_stops(order.side, order.sl, order.tp, quote, spec)
        if refusal is None and quote is not None:
            price = ledger.deal_price(order.side, quote, ledger.slippage_of(book.settings, spec))
            quotes = {**self._quotes(book, now), order.symbol: quote}
            margin = pnl.margin_required(order.volume, price, spec, book.settings.leverage)
            refusal = checks.refuse_margin(ledger.figures(book, self._specs, quotes), margin)
        if refusal is not None:
            return self._rejected(book, now, order, *refusal)
        placed, deal = ledger.open_position(
            book, symbol=order.symbol, side=order.side, volume=order.volume, price=price,
            sl=order.sl, tp=order.tp, magic=order.magic, client_id=order.client_id, time=now)
        return self._filled(order.client_id, placed.ticket, deal)

    def _refuse_closed(self, now: datetime) -> checks.Refusal:
        stamp = calendar.to_utc_timestamp(now)
        index = pd.DatetimeIndex([stamp])
        if not bool(calendar.is_open(index, self._holidays_around(stamp))[0]):
            return retcodes.MARKET_CLOSED, f"the forex market is closed at {stamp.isoformat()}"
        return None

    def _close(self, book: PaperBook, now: datetime, ticket: int, volume: Decimal | None,
               client_id: str, magic: int, side: OrderSide | None = None) -> OrderOutcome:
        position = book.positions.get(ticket)
        refusal = _refuse_position(position, ticket, magic)
        if refusal is not None:
            return self._refused(client_id, *refusal, ticket)
        assert position is not None
        spec = self._specs[position.symbol]
        volume = position.volume if volume is None else volume
        refusal = (checks.refuse_close_volume(volume, position.volume, spec)
                   or self._refuse_closed(now))
        if refusal is None and side is not None and side is not position.side.opposite:
            refusal = retcodes.INVALID, (f"closing a {position.side.value} position needs a "
                                         f"{position.side.opposite.value} order")
        if refusal is not None:
            return self._refused(client_id, *refusal, ticket)
        quote = self._quote(book.settings, position.symbol, now)
        price = ledger.deal_price(position.side.opposite, quote,
                                  ledger.slippage_of(book.settings, spec))
        placed, deal = ledger.close_position(book, spec, position, volume=volume, price=price,
                                             time=now, reason=_reason(magic), magic=magic,
                                             client_id=client_id)
        return self._filled(client_id, placed.ticket, deal)

    def close_position(self, ticket: int, *, client_id: str, magic: int,
                       volume: Decimal | None = None) -> OrderOutcome:
        _validate_identity(client_id, magic)
        with self._session() as (book, now):
            return self._close(book, now, ticket, volume, client_id, magic)

    def modify_position(self, ticket: int, sl: Decimal | None, tp: Decimal | None,
                        *, client_id: str = "", magic: int = 0) -> OrderOutcome:
        _validate_identity(client_id, magic)
        with self._session() as (book, now):
            position = book.positions.get(ticket)
            refusal = _refuse_position(position, ticket, magic)
            if refusal is not None:
                return self._refused(client_id, *refusal, ticket)
            assert position is not None
            spec = self._specs[position.symbol]
            sl = normalise_level(spec, sl)
            tp = normalise_level(spec, tp)
            if (sl, tp) == (position.sl, position.tp):
                return self._refused(client_id, retcodes.NO_CHANGES, "SL and TP are unchanged",
                                     ticket)
            refusal = self._refuse_closed(now)
            if refusal is None:
                quote = self._quote(book.settings, position.symbol, now)
                refusal = (checks.refuse_frozen(position.side, position.sl, position.tp, quote,
                                                spec)
                           or checks.refuse_stops(position.side, sl, tp, quote, spec))
            if refusal is not None:
                return self._refused(client_id, *refusal, ticket)
            position.sl, position.tp = sl, tp
            return OrderOutcome(state=OrderState.FILLED, retcode=retcodes.DONE,
                                message=retcodes.meaning(retcodes.DONE), client_id=client_id,
                                position_ticket=ticket, volume=position.volume, time=now)

    # -- answers -------------------------------------------------------------------------------
    def _filled(self, client_id: str, order_ticket: int, deal: BrokerDeal) -> OrderOutcome:
        return OrderOutcome(
            state=OrderState.FILLED, retcode=retcodes.DONE,
            message=retcodes.meaning(retcodes.DONE), client_id=client_id,
            order_ticket=order_ticket, deal_ticket=deal.ticket,
            position_ticket=deal.position_ticket, volume=deal.volume, price=deal.price,
            time=deal.time)

    def _refused(self, client_id: str, retcode: int, detail: str,
                 position_ticket: int | None = None) -> OrderOutcome:
        return OrderOutcome(state=OrderState.REJECTED, retcode=retcode,
                            message=f"{retcodes.meaning(retcode)}: {detail}", client_id=client_id,
                            position_ticket=position_ticket)

    def _rejected(self, book: PaperBook, now: datetime, order: MarketOrder, retcode: int,
                  detail: str) -> OrderOutcome:
        """A refused order is kept in the order history as ``rejected`` (no deal)."""
        ledger.record_order(book, symbol=order.symbol, side=order.side, volume=order.volume
                            if isinstance(order.volume, Decimal) else Decimal("0"),
                            filled=Decimal("0"), price=None, state="rejected",
                            magic=order.magic, client_id=order.client_id, time=now)
        return self._refused(order.client_id, retcode, detail)


def _reason(magic: int) -> DealReason:
    return DealReason.CLIENT if magic == 0 else DealReason.EXPERT


def _validate_identity(client_id: str, magic: int) -> None:
    """Our orders carry a positive magic and a short ASCII client id (MT5Broker's rule, so a
    caller behaves the same on both brokers). Magic 0 is a person at the terminal: any
    comment goes."""
    if magic != 0 or isinstance(magic, bool) or not isinstance(magic, int):
        validate_identity(client_id, magic)


def _refuse_position(position: PaperPosition | None, ticket: int,
                     magic: int) -> checks.Refusal:
    """An unknown or closed position (10036), or one opened with another magic: NusaTrade
    never touches a position it did not open (MT5Broker refuses the same way)."""
    if position is None:
        return retcodes.POSITION_CLOSED, f"no open position {ticket}"
    if position.magic != magic:
        return retcodes.INVALID, (f"position {ticket} carries magic {position.magic}, not "
                                  f"{magic}: it is not touched")
    return None
