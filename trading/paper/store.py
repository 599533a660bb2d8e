"""The database store of a paper account (implements ``trading.brokers.paper.PaperStore``).

Every broker call runs inside :meth:`DatabaseStore.transaction`: one database transaction that
locks the ``PaperAccount`` row with ``SELECT ... FOR UPDATE`` before reading anything, so two
processes placing orders on one account take turns and each sees the other's balance; nothing
is lost and nothing is double-booked. Writes are the difference between the book as loaded
and as left: the account row, new/changed/closed positions, and the new deals and orders
(bulk inserts).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from trading.brokers.base import (
    BrokerDeal,
    BrokerOrderRecord,
    DealEntry,
    DealReason,
    OrderSide,
)
from trading.brokers.paper.book import PaperBook, PaperPosition, PaperSettings
from trading.paper.models import (
    PaperAccount,
    PaperDeal,
    PaperOrder,
    PositionStatus,
)
from trading.paper.models import PaperPosition as PositionRow
from trading.pnl import CENT, to_cents

VOLUME_LIMIT = Decimal("1e8")   # what PaperOrder.volume_* can hold (12 digits, 4 decimals)
CLIENT_ID_MAX = 64


def _trim(price: Decimal | None) -> Decimal | None:
    """A price column (8 decimals) without its padding zeros, keeping cents: 2350.40000000 ->
    2350.40, 1.08540000 -> 1.0854."""
    if price is None:
        return None
    trimmed = price.normalize()
    return price.quantize(CENT) if trimmed.as_tuple().exponent > -2 else trimmed


def settings_of(row: PaperAccount) -> PaperSettings:
    return PaperSettings(
        login=f"paper-{row.account_id}", currency=row.currency, leverage=row.leverage,
        spread_pips=row.spread_pips, spread_from_bars=row.spread_from_bars,
        slippage_pips=row.slippage_pips, commission_per_lot=row.commission_per_lot,
        stop_out_level=row.stop_out_level, timeframe=row.timeframe)


def position_of(row: PositionRow) -> PaperPosition:
    return PaperPosition(
        ticket=row.ticket, symbol=row.symbol, side=OrderSide(row.side),
        volume=_volume(row.volume), price_open=_trim(row.price_open), sl=_trim(row.sl),
        tp=_trim(row.tp), magic=row.magic,
        client_id=row.client_id, time=row.opened_at, nights=row.nights)


def deal_of(row: PaperDeal) -> BrokerDeal:
    return BrokerDeal(
        ticket=row.ticket, order_ticket=row.order_ticket, position_ticket=row.position_ticket,
        symbol=row.symbol, side=OrderSide(row.side), entry=DealEntry(row.entry),
        volume=_volume(row.volume), price=_trim(row.price), profit=row.profit,
        commission=row.commission, swap=row.swap, fee=row.fee, magic=row.magic,
        client_id=row.client_id, reason=DealReason(row.reason), time=row.time)


def order_of(row: PaperOrder) -> BrokerOrderRecord:
    return BrokerOrderRecord(
        ticket=row.ticket, position_ticket=row.position_ticket, symbol=row.symbol,
        side=OrderSide(row.side), volume_initial=_volume(row.volume_initial),
        volume_filled=_volume(row.volume_filled), price=_trim(row.price), state=row.state,
        magic=row.magic, client_id=row.client_id, time=row.time)


def _volume(volume: Decimal) -> Decimal:
    """A volume column (4 decimals) as lots: 0.1000 -> 0.10."""
    return _trim(volume)  # type: ignore[return-value]


def _storable_volume(volume: object) -> Decimal:
    """A refused order's volume as the column can hold it (NaN, 1e9...: stored as 0)."""
    if isinstance(volume, Decimal) and volume.is_finite() and abs(volume) < VOLUME_LIMIT:
        return volume.quantize(Decimal("0.0001"))
    return Decimal("0")


class DatabaseStore:
    """The book of one ``PaperAccount`` (by primary key) in the database."""

    def __init__(self, paper_account_id: int) -> None:
        self.paper_account_id = paper_account_id

    def transaction(self) -> AbstractContextManager[PaperBook]:
        return self._locked()

    @contextmanager
    def _locked(self) -> Iterator[PaperBook]:
        with transaction.atomic():
            row = PaperAccount.objects.select_for_update().get(pk=self.paper_account_id)
            rows = {p.ticket: p for p in row.positions.filter(status=PositionStatus.OPEN)}
            book = PaperBook(settings=settings_of(row), balance=row.balance,
                             last_bar=row.last_bar, next_ticket=row.next_ticket,
                             positions={t: position_of(p) for t, p in rows.items()})
            before = copy.deepcopy(book.positions)
            yield book
            self._save(row, rows, before, book)

    def _save(self, row: PaperAccount, rows: dict[int, PositionRow],
              before: dict[int, PaperPosition], book: PaperBook) -> None:
        row.balance = to_cents(book.balance)
        row.last_bar = book.last_bar
        row.next_ticket = book.next_ticket
        row.save(update_fields=["balance", "last_bar", "next_ticket", "updated_at"])
        self._save_positions(row, rows, before, book)
        PaperDeal.objects.bulk_create([self._deal_row(row, d) for d in book.new_deals])
        PaperOrder.objects.bulk_create([self._order_row(row, o) for o in book.new_orders])

    def _save_positions(self, row: PaperAccount, rows: dict[int, PositionRow],
                        before: dict[int, PaperPosition], book: PaperBook) -> None:
        outs = {d.position_ticket: d for d in book.new_deals if d.entry is DealEntry.OUT}
        changed: list[PositionRow] = []
        for ticket, stored in rows.items():
            position = book.positions.get(ticket)
            if position is None:
                deal = outs[ticket]
                stored.status, stored.closed_at = PositionStatus.CLOSED, deal.time
                stored.price_close, stored.close_reason = deal.price, deal.reason.value
                stored.volume = deal.volume
            elif position != before[ticket]:
                stored.volume, stored.sl, stored.tp = position.volume, position.sl, position.tp
                stored.nights = position.nights
            else:
                continue
            changed.append(stored)
        PositionRow.objects.bulk_update(changed, ["status", "closed_at", "price_close",
                                                  "close_reason", "volume", "sl", "tp", "nights"])
        new = [p for t, p in book.positions.items() if t not in rows]
        PositionRow.objects.bulk_create([self._position_row(row, p) for p in new])
        self._save_closed_at_birth(row, rows, book, outs)

    def _save_closed_at_birth(self, row: PaperAccount, rows: dict[int, PositionRow],
                              book: PaperBook, outs: dict[int, BrokerDeal]) -> None:
        """Positions opened AND closed inside this one call (e.g. stopped out at once)."""
        born = {d.position_ticket: d for d in book.new_deals if d.entry is DealEntry.IN}
        for ticket, deal in born.items():
            if ticket in rows or ticket in book.positions:
                continue
            out = outs[ticket]
            PositionRow.objects.create(
                paper_account=row, ticket=ticket, symbol=deal.symbol, side=deal.side.value,
                volume=out.volume, price_open=deal.price, magic=deal.magic,
                client_id=deal.client_id[:CLIENT_ID_MAX], opened_at=deal.time,
                status=PositionStatus.CLOSED, closed_at=out.time, price_close=out.price,
                close_reason=out.reason.value)

    @staticmethod
    def _position_row(row: PaperAccount, p: PaperPosition) -> PositionRow:
        return PositionRow(
            paper_account=row, ticket=p.ticket, symbol=p.symbol, side=p.side.value,
            volume=p.volume, price_open=p.price_open, sl=p.sl, tp=p.tp, magic=p.magic,
            client_id=p.client_id[:CLIENT_ID_MAX], opened_at=p.time, nights=p.nights)

    @staticmethod
    def _deal_row(row: PaperAccount, d: BrokerDeal) -> PaperDeal:
        return PaperDeal(
            paper_account=row, ticket=d.ticket, order_ticket=d.order_ticket,
            position_ticket=d.position_ticket, symbol=d.symbol, side=d.side.value,
            entry=d.entry.value, volume=d.volume, price=d.price, profit=d.profit,
            commission=d.commission, swap=d.swap, fee=d.fee, magic=d.magic,
            client_id=d.client_id[:CLIENT_ID_MAX], reason=d.reason.value, time=d.time)

    @staticmethod
    def _order_row(row: PaperAccount, o: BrokerOrderRecord) -> PaperOrder:
        return PaperOrder(
            paper_account=row, ticket=o.ticket, position_ticket=o.position_ticket,
            symbol=o.symbol[:32], side=o.side.value,
            volume_initial=_storable_volume(o.volume_initial),
            volume_filled=_storable_volume(o.volume_filled), price=o.price, state=o.state,
            magic=o.magic, client_id=o.client_id[:CLIENT_ID_MAX], time=o.time)

    def deals(self, start: datetime, end: datetime) -> list[BrokerDeal]:
        rows = PaperDeal.objects.filter(paper_account_id=self.paper_account_id,
                                        time__gte=start, time__lt=end).order_by("time", "ticket")
        return [deal_of(r) for r in rows]

    def orders(self, start: datetime, end: datetime) -> list[BrokerOrderRecord]:
        rows = PaperOrder.objects.filter(paper_account_id=self.paper_account_id,
                                         time__gte=start, time__lt=end).order_by("time", "ticket")
        return [order_of(r) for r in rows]
