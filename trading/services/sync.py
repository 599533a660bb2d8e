"""``positions_sync``: close our positions the broker closed on its own (SL/TP hit, stop-out,
closed by hand) from the broker's deal history, and store those deals with their costs.

Only positions we opened are touched (our rows, by broker ticket): a position opened by hand
at the broker (another magic) is never closed, modified or adopted here. A position the
broker closed only partly keeps its row open (the volume check); reconciliation
(``trading.reconciliation``, which shares :func:`positions_close_from_deals`) reports such
mismatches and engages the account's kill switch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from trading.brokers import broker_for
from trading.brokers.base import BrokerClient, BrokerDeal, DealEntry, DealReason
from trading.models import ExitReason, Order, OrderPurpose, Position, PositionStatus
from trading.services import recording

_MARGIN = timedelta(minutes=1)
_CLOSING = (DealEntry.OUT, DealEntry.OUT_BY, DealEntry.INOUT)


@dataclass(frozen=True)
class SyncReport:
    closed: list[int]       # position ids closed by this sync
    still_open: int


def positions_sync(account_id: int, *, broker: BrokerClient | None = None) -> SyncReport:
    """Read the broker's deals since our oldest open position opened; close the positions
    whose closing deals cover their volume, with costs and P/L (``trading.pnl``)."""
    open_positions = list(Position.objects.filter(
        account_id=account_id, status=PositionStatus.OPEN, broker_ticket__isnull=False)
        .select_related("account"))
    if not open_positions:
        return SyncReport([], 0)
    broker = broker or broker_for(open_positions[0].account)
    since = min(p.entry_time for p in open_positions) - _MARGIN
    by_ticket = deals_by_ticket(broker.deals(since, timezone.now() + _MARGIN))
    closed = positions_close_from_deals(open_positions, by_ticket, broker)
    return SyncReport(closed, len(open_positions) - len(closed))


def deals_by_ticket(deals: list[BrokerDeal]) -> dict[int, list[BrokerDeal]]:
    """The broker's deals grouped by the position they belong to (oldest first)."""
    by_ticket: dict[int, list[BrokerDeal]] = defaultdict(list)
    for deal in deals:
        by_ticket[deal.position_ticket].append(deal)
    return by_ticket


def positions_close_from_deals(open_positions: list[Position],
                               by_ticket: dict[int, list[BrokerDeal]],
                               broker: BrokerClient) -> list[int]:
    """Close each of ``open_positions`` whose closing deals in ``by_ticket`` cover its volume
    (the step reconciliation shares); the ids closed here."""
    closed = []
    specs: dict[str, object] = {}
    for position in open_positions:
        deals = by_ticket.get(int(position.broker_ticket), [])
        out = sum((d.volume for d in deals if d.entry in _CLOSING), Decimal("0"))
        if out < position.volume:
            continue
        spec = specs.get(position.symbol) or specs.setdefault(
            position.symbol, broker.symbol_info(position.symbol))
        if _close(position, deals, spec):
            closed.append(position.pk)
    return closed


def _close(position: Position, deals: list[BrokerDeal], spec) -> bool:
    with transaction.atomic():
        position = Position.objects.select_for_update().get(pk=position.pk)
        if position.status != PositionStatus.OPEN:
            return False   # closed meanwhile by our own close order
        recording.position_close_record(position, spec, deals, reason=_reason(position, deals))
    return True


def _reason(position: Position, deals: list[BrokerDeal]) -> ExitReason | None:
    """Our own close order (an "expert" deal carrying its client id) -> closed; otherwise
    the broker's deal reason decides (None: mapped by ``recording``)."""
    last = [d for d in deals if d.entry in _CLOSING][-1]
    if last.reason is DealReason.EXPERT and Order.objects.filter(
            account_id=position.account_id, client_id=last.client_id,
            purpose=OrderPurpose.CLOSE).exists():
        return ExitReason.CLOSED
    return None
