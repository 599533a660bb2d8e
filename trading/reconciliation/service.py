"""``reconcile_account`` / ``reconcile_all``: keep the database and the broker in agreement.

One run, per account, under the account's cycle lock (``trading.cycle.lock.account_lock``,
the lock the trading cycle holds: a reconciliation never overlaps a cycle of the same account,
so it never mistakes an order the cycle is placing for a stray position; a busy lock records a
``skipped`` run). The steps, in this order:

1. Read the broker first (open positions, deal history over the window). A broker that does
   not answer fails the run here, before anything changed; the run is stored as ``failed``.
2. Orders stuck in pending/sent/unknown: resolved by client id and magic through the existing
   recovery (``trading.services.recovery.order_recover``: found -> recorded, not found ->
   cancelled; never resent). An order whose send lock is held is left to its sender.
3. Our open positions that are no longer open at the broker: closed from the closing deals
   (``trading.services.sync.positions_close_from_deals``, the positions sync's step; P/L
   through ``trading.pnl`` in ``recording``). Partly covered or not found at all: unsafe.
4. Positions open on both sides: volume, side, price, SL/TP and floating P/L compared
   (``trading.reconciliation.compare``); price and moved SL/TP are copied from the broker.
5. Broker positions we have no row for: our magic -> adopted (Position + deals from the
   broker's facts); another magic -> reported, never touched; a row we closed -> unsafe.
6. Closed positions of the window: our P/L against the broker's deals; missing costs are
   imported (safe), a different gross P/L is unsafe.

Anything unsafe engages the ACCOUNT kill switch (rule ``reconciliation``; audited and alerted
by ``kill_switch_engage``) and raises a ``reconciliation_mismatch`` alert. Every finding is a
``ReconciliationItem``. Idempotent: every fix copies broker facts into rows keyed by broker
ticket, so a second run finds nothing to fix and records a clean run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AccountStatus, TradingAccount
from nusatrade.alerts import AlertKind, alert_send
from nusatrade.errors import BrokerError, DataError, NusaTradeError
from trading import pnl
from trading.brokers import broker_for
from trading.brokers.base import BrokerClient, BrokerDeal, BrokerPosition, DealEntry
from trading.cycle.lock import account_lock
from trading.models import (
    IN_FLIGHT,
    FindingKind,
    Instrument,
    ItemAction,
    Order,
    OrderPurpose,
    Position,
    PositionStatus,
    ReconciliationItem,
    ReconciliationRun,
    ReconciliationStatus,
)
from trading.reconciliation import compare
from trading.reconciliation.compare import Finding
from trading.services import recording
from trading.services.killswitches import kill_switch_engage
from trading.services.recovery import order_recover
from trading.services.sync import deals_by_ticket, positions_close_from_deals

logger = logging.getLogger("nusatrade.trading.reconciliation")
ACTOR = "system:reconciliation"
RULE = "reconciliation"
# Clock skew allowance at both ends of the broker-history window.
_MARGIN = timedelta(minutes=1)
_CLOSING = (DealEntry.OUT, DealEntry.OUT_BY, DealEntry.INOUT)


@dataclass(frozen=True)
class _Config:
    tolerance: Decimal
    lookback: timedelta
    order_min_age: timedelta
    magic: int


def _config() -> _Config:
    return _Config(
        tolerance=Decimal(str(getattr(settings, "RECONCILE_PNL_TOLERANCE", "0.10"))),
        lookback=timedelta(days=int(getattr(settings, "RECONCILE_LOOKBACK_DAYS", 7))),
        order_min_age=timedelta(
            seconds=int(getattr(settings, "RECONCILE_ORDER_MIN_AGE_SECONDS", 120))),
        magic=int(settings.TRADING_MAGIC))


def reconcile_account(account_id: int, *, now: datetime | None = None,
                      broker: BrokerClient | None = None,
                      triggered_by: str = "system") -> ReconciliationRun:
    """Reconcile one account with its broker (see the module docstring); the stored run.

    ``now``: the broker's clock the history is read up to (default: now; a paper drill or the
    MT5 simulator passes its own). Never raises for a broker that does not answer: the run is
    stored as ``failed`` with the reason."""
    account = TradingAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise DataError(f"no trading account {account_id}", column="account")
    now = now or timezone.now()
    run = ReconciliationRun.objects.create(account=account, triggered_by=triggered_by[:150],
                                           as_of=now)
    items = _Recorder(run)
    try:
        with account_lock(account.pk) as lock:
            if not lock.acquired:
                return _finish(run, [], ReconciliationStatus.SKIPPED,
                               "another run (a trading cycle or a reconciliation) holds the "
                               "account's lock; nothing compared")
            client = broker or broker_for(account)
            try:
                _reconcile(items, account, client, now, _config())
            finally:
                if broker is None:
                    client.close()        # ours to close (an MT5 terminal session)
            return _conclude(run, items)
    except NusaTradeError as error:   # broker unreachable, lock service down, misconfigured
        logger.warning("reconciliation of account %s failed: %s", account.pk, error)
        return _finish(run, items.items, ReconciliationStatus.FAILED,
                       f"{type(error).__name__}: {error}")
    except Exception as error:
        _finish(run, items.items, ReconciliationStatus.FAILED, f"{type(error).__name__}: {error}")
        raise


def reconcile_all(*, now: datetime | None = None,
                  triggered_by: str = "system") -> list[ReconciliationRun]:
    """Reconcile every account that is not closed; one account failing never stops the rest."""
    accounts = TradingAccount.objects.exclude(status=AccountStatus.CLOSED).order_by("pk")
    runs = []
    for pk in accounts.values_list("pk", flat=True):
        try:
            runs.append(reconcile_account(pk, now=now, triggered_by=triggered_by))
        except Exception:  # a bug, not a broker outage: stored as failed, logged, next account
            logger.exception("reconciliation of account %s crashed", pk)
            runs.append(ReconciliationRun.objects.filter(account_id=pk).latest("id"))
    return runs


class _Recorder:
    """The run's items, written as each finding is handled (a crash keeps what was done)."""

    def __init__(self, run: ReconciliationRun) -> None:
        self.run = run
        self.unsafe: list[Finding] = []
        self.items: list[ReconciliationItem] = []

    def add(self, finding: Finding, *, action: str | None = None,
            order_id: int | None = None) -> ReconciliationItem:
        if action is None:
            action = (ItemAction.KILL_SWITCH if not finding.safe
                      else ItemAction.FIXED if finding.fix else ItemAction.REPORTED)
        if action == ItemAction.KILL_SWITCH:
            self.unsafe.append(finding)
        item = ReconciliationItem.objects.create(
            run=self.run, kind=finding.kind, severity=finding.severity, action=action,
            position_id=finding.position_id, order_id=order_id,
            broker_ticket=finding.ticket, expected=finding.expected, found=finding.found,
            message=finding.message)
        self.items.append(item)
        return item


def _reconcile(items: _Recorder, account: TradingAccount, broker: BrokerClient,
               now: datetime, config: _Config) -> None:
    # 1. Every broker read before any write: a broker down now changes nothing.
    theirs = broker.positions()
    opened = Position.objects.filter(account=account, status=PositionStatus.OPEN,
                                     broker_ticket__isnull=False)
    since = min([now - config.lookback] + [p.entry_time for p in opened]) - _MARGIN
    by_ticket = deals_by_ticket(broker.deals(since, max(now, timezone.now()) + _MARGIN))
    items.run.broker_positions = len(theirs)
    items.run.db_open_positions = opened.count()
    _stuck_orders(items, account, broker, config)
    open_tickets = {p.ticket: p for p in theirs}
    _closed_at_broker(items, account, broker, open_tickets, by_ticket)
    _both_open(items, account, open_tickets, config)
    _unknown_at_broker(items, account, theirs, by_ticket, config)
    _closed_money(items, account, by_ticket, since, config)


def _stuck_orders(items: _Recorder, account: TradingAccount, broker: BrokerClient,
                  config: _Config) -> None:
    cutoff = timezone.now() - config.order_min_age
    before = dict(Order.objects.filter(account=account, status__in=IN_FLIGHT,
                                       created_at__lte=cutoff).values_list("pk", "status"))
    if not before:
        return
    report = order_recover(account.pk, min_age=config.order_min_age, broker=broker)
    for order_id, status in report.resolved:
        items.add(Finding(FindingKind.ORDER_STUCK, compare.WARNING, True, (
            f"order {order_id} was {before.get(order_id, 'in flight')}: {status} after a "
            "look-up by client id (never resent)"), expected={"status": before.get(order_id)},
            found={"status": status}, fix=True), order_id=order_id)
    for order_id in report.busy:
        items.add(Finding(FindingKind.ORDER_IN_FLIGHT, compare.INFO, True, (
            f"order {order_id} is being sent by a live process: left to it")),
            order_id=order_id)
    for order_id, error in report.failed:
        items.add(Finding(FindingKind.ORDER_STUCK, compare.WARNING, True, (
            f"order {order_id} could not be looked up ({error}); the next run retries")),
            order_id=order_id)
    if report.failed:
        # The broker stopped answering mid-run: the comparison would be incomplete.
        raise BrokerError(f"the broker stopped answering while {len(report.failed)} stuck "
                          "order(s) were looked up; run again")


def _closed_at_broker(items: _Recorder, account: TradingAccount, broker: BrokerClient,
                      open_tickets: dict[int, BrokerPosition],
                      by_ticket: dict[int, list[BrokerDeal]]) -> None:
    gone = [p for p in Position.objects.filter(account=account, status=PositionStatus.OPEN,
                                               broker_ticket__isnull=False)
            if int(p.broker_ticket) not in open_tickets]
    closed = set(positions_close_from_deals(gone, by_ticket, broker))
    for position in gone:
        deals = by_ticket.get(int(position.broker_ticket), [])
        expected = {"position": position.pk, "status": "open",
                    "volume": compare.decimal_text(position.volume)}
        common = {"ticket": position.broker_ticket, "position_id": position.pk,
                  "expected": expected, "found": {"deals": [d.ticket for d in deals]}}
        if position.pk in closed:
            position.refresh_from_db()
            items.add(Finding(FindingKind.CLOSED_AT_BROKER, compare.WARNING, True, (
                f"position {position.pk} was closed at the broker ({position.exit_reason} at "
                f"{position.exit_price}, {position.exit_time:%Y-%m-%d %H:%M} UTC): closing "
                f"deal imported, net P/L {position.net_pnl}"), fix=True, **common))
            continue
        out = sum((d.volume for d in deals if d.entry in _CLOSING), Decimal("0"))
        if out:
            items.add(Finding(FindingKind.VOLUME, compare.CRITICAL, False, (
                f"position {position.pk} is not open at the broker but its closing deals "
                f"cover {out} of {position.volume} lots"), **common))
        else:
            items.add(Finding(FindingKind.MISSING_AT_BROKER, compare.CRITICAL, False, (
                f"position {position.pk} (ticket {position.broker_ticket}) is not open at "
                "the broker and no closing deal is in its history window"), **common))


def _ours(position: Position) -> compare.Ours:
    return compare.Ours(position.pk, int(position.broker_ticket), position.symbol,
                        position.side, position.volume, position.entry_price, position.sl,
                        position.tp)


def _both_open(items: _Recorder, account: TradingAccount,
               open_tickets: dict[int, BrokerPosition], config: _Config) -> None:
    specs = {i.symbol: pnl.InstrumentSpec.from_instrument(i) for i in Instrument.objects.all()}
    for position in Position.objects.filter(account=account, status=PositionStatus.OPEN,
                                            broker_ticket__in=list(open_tickets)):
        theirs = open_tickets[int(position.broker_ticket)]
        for finding in compare.compare_open(_ours(position), theirs,
                                            specs.get(position.symbol), config.tolerance):
            if finding.safe and finding.updates:
                with transaction.atomic():
                    Position.objects.filter(pk=position.pk, status=PositionStatus.OPEN).update(
                        **finding.updates, updated_at=timezone.now())
            items.add(finding)


def _unknown_at_broker(items: _Recorder, account: TradingAccount, theirs: list[BrokerPosition],
                       by_ticket: dict[int, list[BrokerDeal]], config: _Config) -> None:
    known = dict(Position.objects.filter(account=account, broker_ticket__in=[
        p.ticket for p in theirs]).values_list("broker_ticket", "pk"))
    in_flight = dict(Order.objects.filter(account=account, status__in=IN_FLIGHT)
                     .values_list("client_id", "pk"))
    for position in theirs:
        if position.ticket in known:
            if Position.objects.filter(pk=known[position.ticket],
                                       status=PositionStatus.CLOSED).exists():
                items.add(Finding(FindingKind.CLOSED_HERE, compare.CRITICAL, False, (
                    f"position {known[position.ticket]} is closed here but still open at the "
                    f"broker (ticket {position.ticket}, {position.volume} lots)"),
                    ticket=position.ticket, position_id=known[position.ticket],
                    found=compare.broker_view(position)))
            continue
        finding = compare.unknown_position(position, config.magic, in_flight)
        if finding.kind == FindingKind.ADOPTED:
            adopted = _adopt(account, position, by_ticket.get(position.ticket, []))
            finding = Finding(**{**finding.__dict__, "position_id": adopted.pk})
        items.add(finding)


def _adopt(account: TradingAccount, theirs: BrokerPosition,
           deals: list[BrokerDeal]) -> Position:
    """Our position (by magic) the database lacks: a row from the broker's facts, linked to
    its order when the client id names one that has no position yet."""
    order = None
    if theirs.client_id:
        order = Order.objects.filter(account=account, client_id=theirs.client_id,
                                     purpose=OrderPurpose.OPEN,
                                     opened_position__isnull=True).first()
    with transaction.atomic():
        # Unique per (account, ticket): a racing recorder of the same fill finds this row.
        position, _created = Position.objects.get_or_create(
            account=account, broker_ticket=theirs.ticket, defaults={
                "model_id": order.model_id if order else None, "opening_order": order,
                "symbol": theirs.symbol, "side": theirs.side.value, "volume": theirs.volume,
                "entry_price": theirs.price_open, "entry_time": theirs.time, "sl": theirs.sl,
                "tp": theirs.tp})
        recording.deals_store(account.pk, position, deals)
    logger.warning("reconciliation adopted position %s (ticket %s) of account %s",
                   position.pk, theirs.ticket, account.pk)
    return position


def _closed_money(items: _Recorder, account: TradingAccount,
                  by_ticket: dict[int, list[BrokerDeal]], since: datetime,
                  config: _Config) -> None:
    """Closed positions whose whole life is inside the history window."""
    closed = Position.objects.filter(account=account, status=PositionStatus.CLOSED,
                                     broker_ticket__isnull=False, gross_pnl__isnull=False,
                                     entry_time__gte=since)
    for position in closed:
        deals = by_ticket.get(int(position.broker_ticket), [])
        if not deals:
            continue
        money = compare.ClosedMoney(position.pk, int(position.broker_ticket),
                                    position.gross_pnl, position.net_pnl, position.entry_time)
        finding = compare.compare_closed(money, deals, config.tolerance)
        if finding is None:
            continue
        if finding.safe and finding.fix:
            _costs_from_deals(position, deals)
        items.add(finding)


def _costs_from_deals(position: Position, deals: list[BrokerDeal]) -> None:
    """The broker's commission and swap on a closed position (net P/L as ``recording``)."""
    with transaction.atomic():
        position = Position.objects.select_for_update().get(pk=position.pk)
        position.commission = pnl.to_cents(-sum((d.commission + d.fee for d in deals),
                                               Decimal("0")))
        position.swap = pnl.to_cents(sum((d.swap for d in deals), Decimal("0")))
        position.net_pnl = pnl.to_cents(position.gross_pnl - position.commission
                                        + position.swap)
        position.save(update_fields=["commission", "swap", "net_pnl", "updated_at"])
        recording.deals_store(position.account_id, position, deals)


def _conclude(run: ReconciliationRun, items: _Recorder) -> ReconciliationRun:
    if items.unsafe:
        _stop(run, items.unsafe)
        return _finish(run, items.items, ReconciliationStatus.MISMATCH, "")
    fixed = any(i.action == ItemAction.FIXED for i in items.items)
    return _finish(run, items.items,
                   ReconciliationStatus.FIXED if fixed else ReconciliationStatus.CLEAN, "")


def _stop(run: ReconciliationRun, unsafe: list[Finding]) -> None:
    """Unsafe findings: the account's kill switch (audited, alerted) and a mismatch alert."""
    summary = "; ".join(f.message for f in unsafe[:5])
    more = f" (+{len(unsafe) - 5} more)" if len(unsafe) > 5 else ""
    reason = (f"reconciliation run {run.pk}: {len(unsafe)} mismatch(es) that cannot be fixed "
              f"safely: {summary}{more}")[:2000]
    result = kill_switch_engage("account", account_id=run.account_id, reason=reason,
                                actor=ACTOR, rule=RULE)
    run.kill_switch = result.switch
    fields: dict[str, Any] = {"account": run.account_id, "run": run.pk,
                              "unsafe": len(unsafe), "kill_switch": result.switch.pk,
                              "kinds": ", ".join(sorted({f.kind for f in unsafe}))}
    alert_send(AlertKind.RECONCILIATION_MISMATCH,
               f"Reconciliation mismatch on account {run.account_id}", reason, fields=fields,
               key=f"account:{run.account_id}")
    logger.error("reconciliation run %s of account %s: %s", run.pk, run.account_id, reason)


def _finish(run: ReconciliationRun, items: list[ReconciliationItem] | None, status: str,
            error: str) -> ReconciliationRun:
    items = items or []
    run.status = status
    run.error = error[:4000]
    run.finished_at = timezone.now()
    run.findings = len(items)
    run.fixed = sum(1 for i in items if i.action == ItemAction.FIXED)
    run.reported = sum(1 for i in items if i.action == ItemAction.REPORTED)
    run.unsafe = sum(1 for i in items if i.action == ItemAction.KILL_SWITCH)
    run.save()
    return run
