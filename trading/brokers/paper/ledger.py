"""What happens to a paper account's book: fills, closes, SL/TP on a bar, swap nights, margin
and stop-out (pure: no Django; money through ``trading.pnl`` only).

Prices (as the backtester's, docs/backtesting.md): bars are bid prices, ask = bid + spread; a
BUY deal fills at the ask + slippage, a SELL deal at the bid - slippage, so a BUY position opens
at the ask and closes at the bid, a SELL the other way round, slippage always against us.
Commission is money per lot per round trip, charged on the closing deal (the engine books it
at the close). Swap is ``rate x lots x nights`` (UTC midnights held), computed in one rounding
at the close, as the engine does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trading import fills, pnl
from trading.brokers.base import (
    BrokerDeal,
    BrokerOrderRecord,
    DealEntry,
    DealReason,
    OrderSide,
)
from trading.brokers.paper.book import PaperBook, PaperPosition, PaperSettings
from trading.pnl import InstrumentSpec

ZERO = Decimal("0")


@dataclass(frozen=True)
class Quote:
    """Bid and spread of one symbol at ``time`` (ask = bid + spread)."""

    symbol: str
    time: datetime
    bid: Decimal
    spread: Decimal

    @property
    def ask(self) -> Decimal:
        return self.bid + self.spread

    def mark(self, side: OrderSide) -> Decimal:
        """The price a position of ``side`` would close at before slippage (bid for a BUY)."""
        return self.bid if side is OrderSide.BUY else self.ask


@dataclass(frozen=True)
class Bar:
    """One closed bar of bid prices (Decimal, on the quote grid) and its spread in price units."""

    symbol: str
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    spread: Decimal


def deal_price(side: OrderSide, quote: Quote, slippage: Decimal) -> Decimal:
    """Fill price of a deal of ``side``: a BUY pays the ask plus slippage, a SELL gets the bid
    minus slippage."""
    return quote.ask + slippage if side is OrderSide.BUY else quote.bid - slippage


def nights_between(start: datetime, end: datetime) -> int:
    """UTC midnights between two moments (the engine's ``days[exit] - days[entry]``)."""
    return max(0, (end.date() - start.date()).days)


def floating_profit(position: PaperPosition, quote: Quote, spec: InstrumentSpec) -> Decimal:
    return pnl.profit(position.side.sign, position.volume, position.price_open,
                      quote.mark(position.side), spec)


def position_swap(position: PaperPosition, spec: InstrumentSpec, nights: int | None = None,
                  volume: Decimal | None = None) -> Decimal:
    return pnl.swap(position.side.sign, position.volume if volume is None else volume,
                    position.nights if nights is None else nights, spec.swap_long,
                    spec.swap_short)


@dataclass(frozen=True)
class Figures:
    """Equity, margin and margin level of a book at a set of quotes."""

    equity: Decimal
    margin: Decimal

    @property
    def free(self) -> Decimal:
        return self.equity - self.margin

    @property
    def level(self) -> Decimal | None:
        return pnl.margin_level(self.equity, self.margin)


def figures(book: PaperBook, specs: Mapping[str, InstrumentSpec],
            quotes: Mapping[str, Quote]) -> Figures:
    """Equity (balance + floating profit + accrued swap) and the margin of the open positions
    at their closing prices (``lots x contract x price / leverage`` each)."""
    equity, margin = book.balance, ZERO
    for position in book.positions.values():
        spec, quote = specs[position.symbol], quotes[position.symbol]
        equity += floating_profit(position, quote, spec) + position_swap(position, spec)
        margin += pnl.margin_required(position.volume, quote.mark(position.side), spec,
                                      book.settings.leverage)
    return Figures(equity=equity, margin=margin)


def record_order(book: PaperBook, *, symbol: str, side: OrderSide, volume: Decimal,
                 filled: Decimal, price: Decimal | None, state: str, magic: int,
                 client_id: str, time: datetime, position_ticket: int = 0,
                 ticket: int | None = None) -> BrokerOrderRecord:
    order = BrokerOrderRecord(
        ticket=book.take_ticket() if ticket is None else ticket,
        position_ticket=position_ticket, symbol=symbol, side=side, volume_initial=volume,
        volume_filled=filled, price=price, state=state, magic=magic, client_id=client_id,
        time=time)
    book.new_orders.append(order)
    return order


def open_position(book: PaperBook, *, symbol: str, side: OrderSide, volume: Decimal,
                  price: Decimal, sl: Decimal | None, tp: Decimal | None, magic: int,
                  client_id: str, time: datetime) -> tuple[BrokerOrderRecord, BrokerDeal]:
    """Open a position filled at ``price`` (the position's ticket is its order's, as MT5's)."""
    ticket = book.take_ticket()
    order = record_order(book, symbol=symbol, side=side, volume=volume, filled=volume,
                         price=price, state="filled", magic=magic, client_id=client_id,
                         time=time, position_ticket=ticket, ticket=ticket)
    book.positions[ticket] = PaperPosition(
        ticket=ticket, symbol=symbol, side=side, volume=volume, price_open=price, sl=sl, tp=tp,
        magic=magic, client_id=client_id, time=time)
    deal = BrokerDeal(
        ticket=book.take_ticket(), order_ticket=ticket, position_ticket=ticket, symbol=symbol,
        side=side, entry=DealEntry.IN, volume=volume, price=price, profit=ZERO,
        commission=ZERO, swap=ZERO, fee=ZERO, magic=magic, client_id=client_id,
        reason=DealReason.CLIENT if magic == 0 else DealReason.EXPERT, time=time)
    book.new_deals.append(deal)
    return order, deal


def close_position(book: PaperBook, spec: InstrumentSpec, position: PaperPosition, *,
                   volume: Decimal, price: Decimal, time: datetime, reason: DealReason,
                   magic: int, client_id: str) -> tuple[BrokerOrderRecord, BrokerDeal]:
    """Close ``volume`` of ``position`` at the fill ``price``: profit, the round trip's
    commission and the swap of the nights held are booked to the balance on this deal."""
    side = position.side.opposite
    order = record_order(book, symbol=position.symbol, side=side, volume=volume, filled=volume,
                         price=price, state="filled", magic=magic, client_id=client_id,
                         time=time, position_ticket=position.ticket)
    profit = pnl.profit(position.side.sign, volume, position.price_open, price, spec)
    commission = -pnl.commission(volume, book.settings.commission_per_lot)
    swap = position_swap(position, spec, nights_between(position.time, time), volume)
    deal = BrokerDeal(
        ticket=book.take_ticket(), order_ticket=order.ticket, position_ticket=position.ticket,
        symbol=position.symbol, side=side, entry=DealEntry.OUT, volume=volume, price=price,
        profit=profit, commission=commission, swap=swap, fee=ZERO, magic=magic,
        client_id=client_id, reason=reason, time=time)
    book.new_deals.append(deal)
    book.balance += profit + commission + swap
    position.volume -= volume
    if position.volume <= 0:
        del book.positions[position.ticket]
    return order, deal


def slippage_of(settings: PaperSettings, spec: InstrumentSpec) -> Decimal:
    return spec.pips(settings.slippage_pips)


def _nan_or(level: Decimal | None) -> float:
    return math.nan if level is None else float(level)


def stop_exit_bid(position: PaperPosition, bar: Bar) -> tuple[int, Decimal | None]:
    """(reason, bid-side exit price) of ``position`` in ``bar`` by :func:`trading.fills.
    first_touch` (the backtester's rule). The rule runs on floats; its answer is mapped back to
    the exact Decimal candidate it computed (the open, a level, a level less the spread)."""
    reason, price, _both = fills.first_touch(
        position.side.sign, float(bar.open), float(bar.high), float(bar.low), float(bar.spread),
        _nan_or(position.sl), _nan_or(position.tp))
    if reason == fills.NO_EXIT:
        return reason, None
    candidates = [bar.open] + [level - shift for level in (position.sl, position.tp)
                               if level is not None for shift in (ZERO, bar.spread)]
    return reason, min(candidates, key=lambda c: abs(float(c) - price))


def apply_bar(book: PaperBook, spec: InstrumentSpec, bar: Bar) -> list[BrokerDeal]:
    """SL/TP of ``bar.symbol``'s open positions inside ``bar``; deals are timed at the bar's
    open, as the backtester times its exits (at the entry, in the entry bar), and carry the
    position's magic and MT5's comment ("[sl 2348.40]"), never the opening order's client id
    (one client id is one order)."""
    deals = []
    slippage = slippage_of(book.settings, spec)
    for position in sorted(book.positions.values(), key=lambda p: p.ticket):
        if position.symbol != spec.symbol:
            continue
        reason, exit_bid = stop_exit_bid(position, bar)
        if exit_bid is None:
            continue
        quote = Quote(spec.symbol, bar.time, exit_bid, bar.spread)
        price = deal_price(position.side.opposite, quote, slippage)
        if reason == fills.STOP_LOSS:
            why, comment = DealReason.STOP_LOSS, f"[sl {position.sl:.{spec.digits}f}]"
        else:
            why, comment = DealReason.TAKE_PROFIT, f"[tp {position.tp:.{spec.digits}f}]"
        # A position opened inside this (its entry) bar is priced at the bar's open, like the
        # engine's entry; its exit is not timed before its entry.
        time = max(bar.time, position.time)
        deals.append(close_position(book, spec, position, volume=position.volume, price=price,
                                    time=time, reason=why, magic=position.magic,
                                    client_id=comment)[1])
    return deals


def accrue_nights(book: PaperBook, moment: datetime) -> None:
    """Every open position's swap nights up to ``moment`` (the swap shown while open)."""
    for position in book.positions.values():
        position.nights = nights_between(position.time, moment)


def stop_out(book: PaperBook, specs: Mapping[str, InstrumentSpec],
             quotes: Mapping[str, Quote], time: datetime) -> list[BrokerDeal]:
    """While the margin level is below the account's stop-out level, close the position with
    the largest floating loss at market (deal reason ``stop_out``) and look again, as a broker
    does."""
    deals = []
    while book.positions:
        money = figures(book, specs, quotes)
        level = money.level
        if level is None or level >= book.settings.stop_out_level:
            break
        worst = min(book.positions.values(), key=lambda p: (
            floating_profit(p, quotes[p.symbol], specs[p.symbol]), p.ticket))
        spec, quote = specs[worst.symbol], quotes[worst.symbol]
        price = deal_price(worst.side.opposite, quote, slippage_of(book.settings, spec))
        deals.append(close_position(book, spec, worst, volume=worst.volume, price=price,
                                    time=time, reason=DealReason.STOP_OUT, magic=worst.magic,
                                    client_id=f"[so {level}%/{money.equity}/{money.margin}]")[1])
    return deals
