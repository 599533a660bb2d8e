"""Replay: the REAL cycle driven bar by bar over stored history on a paper account.

Only the clock and the data feed are the replay's: each cycle runs with the paper broker's
clock at the bar's close and reads the stored bars closed by then (:class:`MemoryFeed`, read
from the database once). Everything else is production: ``cycle_step`` (signals, HOLD gate,
position management), ``order_place`` with its locked risk gate and kill switches, the paper
broker's fills, SL/TP and swaps, ``positions_sync``.

The clocks, per bar ``t`` of the period but the last (as the backtester, whose last bar has no
next open to fill at): the bar's close, ``t + timeframe``; when the market is closed then (a
Friday's last bar, a holiday), also the open of the next stored bar, when the deferred
decision of bar ``t`` fills (``trading.cycle.strategy.fill_time``: the next open). After the
last bar, positions still open are closed ("end_of_data"), as the backtest closes them.

Why it equals ``backtest --account`` (docs/auto-trading.md): same signals (the same model on
the same features: the cycle's bounded window is long enough for the features and the ATR to
equal the backtest's), same decision rule (the kernel's own ``_close_decision``), same fill
prices (the paper broker prices at the next open with the same spread/slippage and SL/TP by
``trading.fills.first_touch``), same money (``trading.pnl``), same risk rules
(``trading.risk``, fed from the account's rows by ``order_gate``).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from accounts.models import Broker, TradingAccount
from marketdata import calendar, timeframes
from nusatrade.errors import DataError
from trading.cycle import strategy
from trading.cycle.lock import account_lock
from trading.models import ExitReason, OrderStatus, Position, PositionStatus

MAX_DAYS = 366


class MemoryFeed:
    """The stored bars of the replay, read once; ``closed_bars`` answers as the database feed
    does at the replay's clock (the bars closed by ``now``, never one still forming)."""

    def __init__(self, bars: pd.DataFrame, timeframe: str) -> None:
        self.bars = bars
        self.delta = timeframes.get(timeframe).delta
        self._close_ns = (bars.index + self.delta).as_unit("ns").asi8

    def closed_bars(self, symbol: str, timeframe: str, count: int,
                    now: datetime) -> pd.DataFrame:
        upto = int(np.searchsorted(self._close_ns, pd.Timestamp(now).as_unit("ns").value,
                                   side="right"))
        if upto == 0:
            raise DataError(f"{symbol} {timeframe}: no closed bar before {now:%Y-%m-%d %H:%M}")
        return self.bars.iloc[max(upto - count, 0):upto]


@dataclass
class ReplayResult:
    account_id: int
    model_id: int
    start: date
    days: int
    bars: int
    cycles: int
    seconds: float
    trades: list[dict[str, Any]] = field(default_factory=list)
    halts: list[dict[str, str]] = field(default_factory=list)
    denied_by_rule: dict[str, int] = field(default_factory=dict)
    kill_switch_events: list[dict[str, Any]] = field(default_factory=list)
    open_positions: list[int] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.account_id, "model": self.model_id,
                "start": self.start.isoformat(), "days": self.days, "bars": self.bars,
                "cycles": self.cycles, "seconds": round(self.seconds, 2),
                "bars_per_second": round(self.bars / self.seconds, 1) if self.seconds else None,
                "metrics": self.metrics, "trades": self.trades, "halts": self.halts,
                "denied_by_rule": self.denied_by_rule,
                "kill_switch_events": self.kill_switch_events,
                "open_positions": self.open_positions}


def _validate(account: TradingAccount, days: int) -> None:
    if account.broker != Broker.PAPER:
        raise DataError(f"account {account.pk} is not a paper account: replay trades through "
                        "the paper broker only (never a live account)", column="account")
    if not 1 <= days <= MAX_DAYS:
        raise DataError(f"days must be from 1 to {MAX_DAYS}", column="days")


def replay_run(account_id: int, start: date, days: int, *, feature_set: Any = None,
               progress: Any = None) -> ReplayResult:
    """Replay ``days`` UTC days from ``start`` on paper account ``account_id``.

    DataError for a live account, a bad period, no active model or no stored bars; refused
    (DataError) while another replay or cycle holds the account's lock.
    """
    from mlops.selectors import model_active
    from trading.cycle.run import account_get
    from trading.services.strategy import strategy_settings_get

    account = account_get(account_id)
    _validate(account, days)
    settings = strategy_settings_get(account.pk)
    symbol, tf = settings.symbol.upper(), settings.timeframe.upper()
    model = model_active(symbol, tf)
    if model is None:
        raise DataError(f"no active model for {symbol} {tf}: nothing to replay",
                        column="account")
    with account_lock(account.pk) as lock:
        if not lock.acquired:
            raise DataError(f"account {account.pk} is busy: another replay or cycle holds its "
                            "lock", column="account")
        return _replay_locked(account, model, start, days, lock, feature_set, progress)


def _load(symbol: str, tf: str, lower: pd.Timestamp, upper: pd.Timestamp,
          warmup: int) -> pd.DataFrame:
    from marketdata.selectors import load_bars

    delta = timeframes.get(tf).delta
    span = delta * int(warmup * 1.5) + pd.Timedelta(days=14)
    # One bar past the period too: the paper broker prices the end at the next open.
    return load_bars(symbol, tf, lower - span, upper)


def _clocks(period: pd.DatetimeIndex, tf: str) -> list[datetime]:
    """Each bar's close, and the next open after a closed market (see the module doc)."""
    delta = timeframes.get(tf).delta
    clocks = []
    for this, following in itertools.pairwise(period):
        clocks.append(strategy.fill_time(this, tf))
        if following != this + delta:
            clocks.append(following.to_pydatetime())
    return clocks


def _replay_locked(account, model, start, days, lock, feature_set, progress) -> ReplayResult:
    from mlops import pipeline
    from trading.cycle.run import cycle_step

    started = time.perf_counter()
    tf = model.timeframe
    feature_set = feature_set or pipeline.feature_set_for_id(model.feature_set_id)
    warmup = max(feature_set.lookback_bars or 3000, strategy.ATR_WARMUP_BARS)
    lower = calendar.to_utc_timestamp(datetime(start.year, start.month, start.day))
    upper = lower + pd.Timedelta(days=days)
    bars = _load(model.instrument.symbol, tf, lower, upper, warmup)
    period = bars.index[(bars.index >= lower) & (bars.index < upper)]
    if len(period) < 2:
        raise DataError(f"fewer than 2 stored {model.instrument.symbol} {tf} bars from {start} "
                        f"for {days} day(s)", column="start")
    feed = MemoryFeed(bars[bars.index < upper], tf)
    clocks = _clocks(period, tf)
    wall_start = pd.Timestamp.now(tz="UTC").to_pydatetime()
    for number, clock in enumerate(clocks, start=1):
        cycle_step(account, clock, lock=lock, paper_clock=True, feature_set=feature_set,
                   feed=feed)
        if progress is not None:
            progress(number, len(clocks))
    end_clock = strategy.fill_time(period[-1], tf)
    still_open = _close_at_end(account, end_clock, lock)
    result = ReplayResult(account.pk, model.pk, start, days, len(period), len(clocks), 0.0,
                          open_positions=still_open)
    _collect(result, account, model, lower.to_pydatetime(), end_clock, period, wall_start)
    result.seconds = time.perf_counter() - started
    return result


def _close_at_end(account: TradingAccount, clock: datetime, lock) -> list[int]:
    """SL/TP inside the last bar first (the broker's), then close what is still open, as the
    backtest does at the end of its data. When the market is closed at that clock the close
    cannot fill: the positions stay open and are listed as such."""
    from trading.services import paper_broker_at, position_close, positions_sync

    broker = paper_broker_at(account, clock)
    positions_sync(account.pk, broker=broker)
    left = []
    for position in Position.objects.filter(account=account, status=PositionStatus.OPEN,
                                            model__isnull=False):
        lock.ensure_held()
        result = position_close(position.pk, broker=broker,
                                reason=f"{strategy.END_OF_DATA}: the replay's period ended")
        if result.order.status != OrderStatus.FILLED:
            left.append(position.pk)
    return left


def _exit_reason(position: Position) -> str:
    if position.exit_reason != ExitReason.CLOSED:
        return str(position.exit_reason)
    order = position.close_orders.filter(status=OrderStatus.FILLED).first()
    text = order.reason if order is not None else ""
    code = text.split(":", 1)[0].strip()
    return code if code in (strategy.TIME_EXIT, strategy.OPPOSITE_EXIT,
                            strategy.END_OF_DATA) else "closed"


def _price(value: Decimal) -> str:
    return f"{value:.8f}"


def trade_rows(account: TradingAccount, lower: datetime, end_clock: datetime,
               last_bar: datetime) -> list[dict[str, Any]]:
    """The closed positions of the period, listed as ``backtest --json`` lists its trades
    (times are bar open times: an end-of-data exit carries the last bar's time, as there)."""
    rows = []
    positions = (Position.objects.filter(account=account, status=PositionStatus.CLOSED,
                                         entry_time__gte=lower, entry_time__lte=end_clock)
                 .prefetch_related("close_orders").order_by("entry_time", "id"))
    for number, position in enumerate(positions, start=1):
        reason = _exit_reason(position)
        exit_time = last_bar if reason == strategy.END_OF_DATA else position.exit_time
        rows.append({"number": number, "entry_time": position.entry_time.isoformat(),
                     "exit_time": exit_time.isoformat(), "side": position.side,
                     "volume": str(position.volume),
                     "entry_price": _price(position.entry_price),
                     "exit_price": _price(position.exit_price),
                     "net_pnl": f"{position.net_pnl:.2f}", "exit_reason": reason,
                     "position": position.pk})
    return rows


def _collect(result: ReplayResult, account: TradingAccount, model: Any, lower: datetime,
             end_clock: datetime, period: pd.DatetimeIndex, wall_start: datetime) -> None:
    from trading.cycle.replay_report import (
        halts_of,
        kill_switch_events,
        period_metrics,
        refusals_of,
    )

    last_bar = period[-1].to_pydatetime()
    result.trades = trade_rows(account, lower, end_clock, last_bar)
    result.halts = halts_of(account, result.trades, model.instrument.symbol)
    result.denied_by_rule = refusals_of(account, lower, end_clock)
    result.kill_switch_events = kill_switch_events(account, model.pk, wall_start)
    result.metrics = period_metrics(account, result.trades, period, model.timeframe)
