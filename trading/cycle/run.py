"""``cycle_run``: one trading cycle of one account on the bar that has just closed.

The steps, in order (docs/auto-trading.md, "The cycle step by step"):

1. release kill switches whose time has come (``kill_switches_expire``: the daily-loss stop);
2. outside market hours (the bar that just closed covered none): do nothing at all;
3. take the account's cycle lock (``account_lock``): another cycle holds it -> skipped;
4. the active model of the account's symbol/timeframe (none -> nothing to do);
5. the latest closed bars (bounded lookback) and their freshness (``check_fresh``): stale or
   gap -> a HOLD signal with that reason, nothing traded;
6. a signal already recorded for this bar and account -> "already processed": a late or
   repeated run does nothing (unless the earlier run died between its signal and its orders,
   when the remaining idempotent steps are completed);
   when the market closes with the bar (Friday's last bar), the signal is recorded and its
   orders wait: the first cycle after the reopening (the bar that just closed covered no
   market hours, but the market is open now) carries them out at that open, which is where
   the backtester fills a decision of the last bar before a weekend;
7. features and the prediction on the bounded window (``mlops.services.live``), the HOLD gate
   (the model's threshold, or the account's), the ``Signal`` (``signal_record``);
8. positions: the broker's SL/TP closes are imported first (``positions_sync``: the broker
   applied them inside the bar, before its close), then the backtester's rule at the close
   (:func:`trading.cycle.strategy.close_decision`): time exit, opposite-signal exit and
   reversal, each through ``position_close``;
9. the entry: ATR at the signal bar, SL/TP from the expected fill, lots (fixed or risk %),
   ``signal_order_place`` (kill switches and risk rules are checked inside the locked order
   transaction by ``order_gate``); recorded on the Order/Position rows.

Every write is idempotent per (account, model, bar) or per position, so a redelivered task
or a rerun after a crash places nothing twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import Broker, TradingAccount
from nusatrade.errors import DataError
from nusatrade.metrics import observe_cycle
from trading.cycle.lock import AccountLock, account_lock

logger = logging.getLogger("nusatrade.trading.cycle")

# Outcome statuses (stable: --json and the schedule's logs show them).
DONE = "done"
DRY_RUN = "dry_run"
MARKET_CLOSED = "market_closed"
SKIPPED = "skipped_locked"
NO_MODEL = "no_active_model"
ALREADY = "already_processed"
HOLD_STALE = "hold_stale_data"
DEFERRED = "deferred_market_closed"


@dataclass
class PositionAction:
    """What the cycle did (or, dry run, would do) to one open position."""

    position_id: int
    action: str                 # "time" | "opposite_signal" | "kept" | "closed_by_broker"
    order_id: int | None = None
    order_status: str = ""
    message: str = ""


@dataclass
class CycleOutcome:
    """What one cycle decided and did (``to_dict`` is ``trade_cycle --json``)."""

    account_id: int
    at: datetime
    status: str
    dry_run: bool = False
    symbol: str = ""
    timeframe: str = ""
    model_id: int | None = None
    bar_time: datetime | None = None
    decision: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    signal_id: int | None = None
    order_id: int | None = None
    order_status: str = ""
    order_message: str = ""
    order: dict[str, Any] = field(default_factory=dict)
    actions: list[PositionAction] = field(default_factory=list)
    released_switches: list[int] = field(default_factory=list)
    engaged_switches: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decision"] = None if self.decision is None else str(self.decision)
        data["order_status"] = str(self.order_status)
        for action in data["actions"]:
            action["order_status"] = str(action["order_status"])
        data["at"] = self.at.isoformat()
        data["bar_time"] = self.bar_time.isoformat() if self.bar_time else None
        return data

    @property
    def summary(self) -> str:
        bar = f" bar {self.bar_time:%Y-%m-%d %H:%M}" if self.bar_time else ""
        text = f"account {self.account_id}{bar}: {self.status}"
        if self.decision:
            text += f", {self.decision}"
        if self.reason:
            text += f" ({self.reason})"
        if self.order_id:
            text += f"; order {self.order_id} {self.order_status}"
        for action in self.actions:
            if action.action not in ("kept",):
                text += f"; position {action.position_id} {action.action}"
                if action.order_status:
                    text += f" ({action.order_status})"
        return text


def _validate_at(account: TradingAccount, at: datetime | None) -> None:
    if at is None:
        return
    if at.tzinfo is None:
        raise DataError("--at must be a timezone-aware time (e.g. 2024-01-02T10:00:05+00:00)",
                        column="at")
    if account.broker != Broker.PAPER:
        raise DataError(f"account {account.pk} is not a paper account: --at (a past clock) "
                        "is only for paper accounts; a live broker's clock is the market's",
                        column="at")


def account_get(account_id: int) -> TradingAccount:
    account = TradingAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise DataError(f"no trading account {account_id}", column="account")
    return account


def cycle_run(account_id: int, *, at: datetime | None = None, dry_run: bool = False,
              feature_set: Any = None, feed: Any = None) -> CycleOutcome:
    """Run one cycle for ``account_id`` as of ``at`` (paper accounts only; default: now).

    ``dry_run``: decide and report, record nothing (no Signal, Order, FeatureSnapshot or
    Prediction; no kill switch released). ``feature_set``: the model's feature set when it is
    not the production one (tests). ``feed``: where the bars come from (default: the
    database; replay passes its own, advanced bar by bar). Raises ``DataError`` for a bad
    account or ``at``, ``LockUnavailable`` when the lock service is down.
    """
    account = account_get(account_id)
    _validate_at(account, at)
    now = at or timezone.now()
    started = time.perf_counter()
    released: list[int] = []
    if not dry_run:
        from trading.services.killswitches import kill_switches_expire

        released = [s.pk for s in kill_switches_expire(now)]
    with account_lock(account.pk) as lock:
        if not lock.acquired:
            return CycleOutcome(account.pk, now, SKIPPED, dry_run=dry_run,
                                reason="another cycle holds this account's lock",
                                released_switches=released)
        try:
            outcome = cycle_step(account, now, lock=lock, paper_clock=at is not None,
                                 dry_run=dry_run, feature_set=feature_set, feed=feed)
        except Exception as exc:
            if not dry_run:
                _error_record(account.pk, exc, now)
            observe_cycle(time.perf_counter() - started, outcome="error")
            raise
    outcome.released_switches = released
    observe_cycle(time.perf_counter() - started, outcome=outcome.status)
    return outcome


def _error_record(account_id: int, exc: Exception, now: datetime) -> None:
    """A cycle that failed is a critical error of the trading path: counted for the
    "repeated critical errors" stop (trading.services.stops). Recording must not hide the
    original error, so a failure to record (the database is down) is only logged."""
    from trading.services.stops import trading_error_record

    try:
        trading_error_record(account_id, where="cycle", error=exc, now=now)
    except Exception:
        logger.exception("cycle %s: could not record the error", account_id)


def cycle_step(account: TradingAccount, now: datetime, *, lock: AccountLock | None,
               paper_clock: bool, dry_run: bool = False, feature_set: Any = None,
               feed: Any = None) -> CycleOutcome:
    """The cycle's body, for a caller that already holds the account's lock (``cycle_run``,
    replay). ``paper_clock``: trade through the paper broker at ``now`` (drills, replay)."""
    from trading.cycle.steps import CycleContext

    context = CycleContext.build(account, now, lock=lock, paper_clock=paper_clock,
                                 dry_run=dry_run, feature_set=feature_set, feed=feed)
    return context.run()


def outcome_money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"
