"""What a replay reports: its period metrics (``backtests.metrics``), the risk halts, the
entries the order gate refused, and the kill-switch events (docs/auto-trading.md)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from accounts.models import TradingAccount
from marketdata import timeframes
from trading.models import KillSwitch, Order, OrderPurpose, OrderStatus, RiskPolicy

_REFUSED = re.compile(r"^refused by (?P<rule>[\w.-]+):")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def halts_of(account: TradingAccount, trades: list[dict[str, Any]],
             symbol: str) -> list[dict[str, str]]:
    """The halts the shared risk rules (``trading.risk``, with the account's policy) raise on
    the replay's trades, booked as the backtester books them: each open at its entry with
    the balance then, each close at its exit with the balance after (closes at the same
    instant first, except a trade's own close, which follows its open). A report only: the
    order gate enforced the same rules on every entry while the replay ran."""
    from trading.risk import FOREVER, RiskState, on_trade_closed, on_trade_opened

    policy = RiskPolicy.objects.filter(account=account).first() or RiskPolicy(account=account)
    config = policy.to_config()
    events = []
    for trade in trades:
        entry, exit_ = _time(trade["entry_time"]), _time(trade["exit_time"])
        events.append((entry, 1, trade["number"], "open", trade))
        events.append((exit_, 0 if exit_ > entry else 2, trade["number"], "close", trade))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    balance = account.initial_balance
    state = RiskState.start(balance)
    halts = []
    for when, _order, _number, kind, trade in events:
        if kind == "open":
            state = on_trade_opened(config, state, when, symbol, balance)
            continue
        balance += Decimal(trade["net_pnl"])
        state, new = on_trade_closed(config, state, when, symbol, Decimal(trade["net_pnl"]),
                                     balance)
        halts += [{"time": h.time.isoformat(), "rule": h.rule, "reason": h.reason,
                   "until": "end of period" if h.until >= FOREVER else h.until.isoformat()}
                  for h in new]
    return halts


def refusals_of(account: TradingAccount, lower: datetime, end_clock: datetime) -> dict[str, int]:
    """Entries the risk gate refused during the period, per rule (kill switch or risk): the
    cycle's early look (recorded on the signal) and, rarely, the gate inside
    ``order_place`` (a rejected order)."""
    from trading.cycle.steps import REFUSED_PREFIX
    from trading.models import Signal

    counts: Counter[str] = Counter()
    reasons = Signal.objects.filter(account=account, bar_time__gte=lower, bar_time__lt=end_clock,
                                    reason__contains=REFUSED_PREFIX).values_list("reason",
                                                                                 flat=True)
    for reason in reasons:
        rule = reason.split(REFUSED_PREFIX, 1)[1].split(":", 1)[0]
        counts[rule] += 1
    errors = Order.objects.filter(
        account=account, purpose=OrderPurpose.OPEN, status=OrderStatus.REJECTED,
        signal__bar_time__gte=lower, signal__bar_time__lt=end_clock).values_list("error",
                                                                                 flat=True)
    for error in errors:
        match = _REFUSED.match(error or "")
        counts[match.group("rule") if match else "broker"] += 1
    return dict(sorted(counts.items()))


def kill_switch_events(account: TradingAccount, model_id: int,
                       since: datetime) -> list[dict[str, Any]]:
    """Kill switches covering the account (global, its own, its model's) engaged or released
    since ``since`` (wall clock: switches are engaged in real time, by people or by the
    automatic stops)."""
    from django.db.models import Q

    scope = Q(account=account) | Q(scope="global") | Q(model_id=model_id)
    events = []
    for switch in KillSwitch.objects.filter(scope).filter(
            Q(engaged_at__gte=since) | Q(released_at__gte=since)).order_by("engaged_at", "id"):
        events.append({"switch": switch.pk, "scope": switch.scope, "rule": switch.rule,
                       "reason": switch.reason, "engaged_by": switch.engaged_by,
                       "engaged_at": switch.engaged_at.isoformat(),
                       "released_at": switch.released_at.isoformat()
                       if switch.released_at else None})
    return events


def period_metrics(account: TradingAccount, trades: list[dict[str, Any]],
                   period: pd.DatetimeIndex, tf: str) -> dict[str, Any]:
    """``backtests.metrics.compute_metrics`` of the replay: its trades and the realised
    equity at each bar (spread and slippage are inside the fill prices, so their cost columns
    are 0 here; commission and swap come from the positions)."""
    from backtests.metrics import compute_metrics, json_safe
    from trading.models import Position

    initial = float(account.initial_balance)
    by_id = {p.pk: p for p in Position.objects.filter(pk__in=[t["position"] for t in trades])}
    exits = pd.DatetimeIndex([_time(t["exit_time"]) for t in trades])
    nets = np.array([float(t["net_pnl"]) for t in trades])
    booked = np.zeros(len(period))
    if len(trades):
        np.add.at(booked, np.minimum(period.searchsorted(exits), len(period) - 1), nets)
    equity = pd.Series(initial + np.cumsum(booked), index=period)
    entries = pd.DatetimeIndex([_time(t["entry_time"]) for t in trades])
    frame = pd.DataFrame({
        "net_pnl": nets, "exit_reason": [t["exit_reason"] for t in trades],
        "bars_held": (period.searchsorted(exits) - period.searchsorted(entries))
        if len(trades) else np.array([], dtype=int),
        "spread_cost": 0.0, "slippage_cost": 0.0,
        "commission": [float(by_id[t["position"]].commission) for t in trades],
        "swap": [float(by_id[t["position"]].swap) for t in trades]})
    tf_info = timeframes.get(tf)
    metrics = compute_metrics(frame, equity, initial_equity=initial,
                              bars_per_year=tf_info.bars_per_year, bar_duration=tf_info.delta)
    return json_safe(metrics)
