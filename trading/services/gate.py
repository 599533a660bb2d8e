"""The risk gate every new position passes, inside the locked order transaction.

Kill switches (global, the account's, the model's) and the shared risk rules of
``trading.risk`` (the backtester's, pure) fed from the database: open positions AND orders
still in flight (pending, sent, unknown) count as exposure, so two decisions racing for one
account cannot both pass "one position per symbol" or "max trades per day". The caller holds
the account row lock (``select_for_update``), which serialises every gate check of the account.

Equity here is the account's realised equity (initial balance plus closed positions' net P/L,
from our own rows: no broker call while the account is locked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from accounts.models import AccountStatus, TradingAccount
from trading.models import (
    IN_FLIGHT,
    KillSwitch,
    KillSwitchScope,
    Order,
    OrderPurpose,
    OrderStatus,
    Position,
    PositionStatus,
    RiskPolicy,
)
from trading.risk import RiskConfig, RiskState, check_entry
from trading.risk.rules import CLOSE_RULES

# Open orders that used up a trade of the day (rejected and cancelled ones did not).
_COUNTED = (*IN_FLIGHT, OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)


@dataclass(frozen=True)
class Refusal:
    rule: str
    reason: str


def engaged_switch(account_id: int, model_id: int | None) -> KillSwitch | None:
    """The engaged kill switch that covers this account/model, if any (global first)."""
    scope = Q(scope=KillSwitchScope.GLOBAL) | Q(scope=KillSwitchScope.ACCOUNT,
                                                account_id=account_id)
    if model_id is not None:
        scope |= Q(scope=KillSwitchScope.MODEL, model_id=model_id)
    return KillSwitch.objects.filter(scope, engaged=True).order_by("scope", "id").first()


def risk_config_for(account: TradingAccount) -> RiskConfig:
    policy = RiskPolicy.objects.filter(account=account).first() or RiskPolicy(account=account)
    return policy.to_config()


def _day_start(now: datetime) -> datetime:
    day = now.astimezone(UTC).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def risk_state_build(account: TradingAccount, config: RiskConfig, now: datetime) -> RiskState:
    """The pure rules' state of ``account`` at ``now``, from its rows."""
    closed = list(Position.objects.filter(account=account, status=PositionStatus.CLOSED)
                  .order_by("exit_time", "id").values_list("net_pnl", "exit_time"))
    equity = account.initial_balance
    peak = equity
    for net, _time in closed:
        equity += net
        peak = max(peak, equity)
    start = _day_start(now)
    daily = sum((net for net, time in closed if time >= start), Decimal("0"))
    recent = [float(net) for net, _time in closed[-config.kill_switch_window:]]
    streak = 0
    for net in reversed(recent):
        if net > 0:
            break
        streak += 1
    open_symbols = list(Position.objects.filter(account=account, status=PositionStatus.OPEN)
                        .values_list("symbol", flat=True))
    in_flight = Order.objects.filter(account=account, purpose=OrderPurpose.OPEN,
                                     status__in=IN_FLIGHT)
    open_symbols += list(in_flight.values_list("symbol", flat=True))
    # A trade's day is when the broker opened its position (the broker's clock: on a paper
    # drill or a replay that is the drill's time, not the wall clock's); an order with no
    # position yet (in flight) counts on the day it was created.
    trades_today = Order.objects.filter(
        account=account, purpose=OrderPurpose.OPEN, status__in=_COUNTED).annotate(
        traded_at=Coalesce("opened_position__entry_time", "created_at")).filter(
        traded_at__gte=start, traded_at__lt=start + timedelta(days=1)).count()
    return RiskState(day=start.date(), trades_today=trades_today,
                     day_start_equity=float(equity - daily), daily_pnl=float(daily),
                     open_positions=tuple(open_symbols), equity=float(equity),
                     equity_peak=float(peak), recent=tuple(recent), loss_streak=streak)


def order_gate(account: TradingAccount, model_id: int | None, symbol: str,
               now: datetime) -> Refusal | None:
    """Why a new ``symbol`` position may not open now (None: it may). Call with the account
    row locked."""
    if account.status != AccountStatus.ACTIVE:
        return Refusal("account_status", f"account {account.pk} is {account.status}")
    switch = engaged_switch(account.pk, model_id)
    if switch is not None:
        return Refusal("kill_switch", f"kill switch engaged ({switch.scope}): {switch.reason}")
    config = risk_config_for(account)
    state = risk_state_build(account, config, now)
    for rule in CLOSE_RULES:
        halt = rule.check(config, state, now)
        if halt is not None:
            return Refusal(halt.rule, halt.reason)
    decision = check_entry(config, state, now, symbol)
    if not decision.allowed:
        return Refusal(decision.rule or "risk", decision.reason)
    return None


def realised_equity(account: TradingAccount) -> Decimal:
    total = Position.objects.filter(account=account, status=PositionStatus.CLOSED).aggregate(
        total=Sum("net_pnl"))["total"]
    return account.initial_balance + (total or Decimal("0"))
