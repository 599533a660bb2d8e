"""The steps of one cycle (see :mod:`trading.cycle.run` for the order and the why)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from accounts.models import Broker, TradingAccount
from marketdata import calendar
from nusatrade.errors import DataError
from trading.cycle import freshness, strategy
from trading.cycle.lock import AccountLock
from trading.cycle.run import (
    ALREADY,
    DEFERRED,
    DONE,
    DRY_RUN,
    HOLD_STALE,
    MARKET_CLOSED,
    NO_MODEL,
    CycleOutcome,
    PositionAction,
)
from trading.models import Decision, Order, Position, PositionStatus, Signal, StrategySettings

logger = logging.getLogger("nusatrade.trading.cycle")
SIDE = {Decision.BUY: 1, Decision.SELL: -1, Decision.HOLD: 0}
# Written into a signal's reason when the risk gate refused its entry (replay counts them).
REFUSED_PREFIX = "entry refused by "
# A BUY/SELL bar that finished without an entry of its own (a position already open, ATR
# undefined, volume below the minimum): written on the signal so a late or repeated run of
# that bar does nothing (see ``_processed``).
NO_ENTRY_PREFIX = "no entry: "
NAME = {1: Decision.BUY, -1: Decision.SELL, 0: Decision.HOLD}


class DatabaseFeed:
    """The bars of the live path: the stored bars closed by ``now`` (bounded lookback)."""

    def closed_bars(self, symbol: str, timeframe: str, count: int,
                    now: datetime) -> pd.DataFrame:
        from mlops.services.live import closed_bars_load

        return closed_bars_load(symbol, timeframe, count, now)


def holidays_around(now: datetime) -> tuple:
    year = now.year
    return calendar.default_holidays(year - 1, year + 1)


def market_open_at(now: datetime, holidays: tuple | None = None) -> bool:
    """Can an order fill at ``now`` by the cycle's market calendar (weekends, the holidays)?
    THE rule of the cycle's step 1; readiness's agreement check names the trades a backtest
    makes while it says closed (``readiness.agreement``)."""
    holidays = holidays_around(now) if holidays is None else holidays
    return bool(calendar.is_open(pd.DatetimeIndex([now]), holidays)[0])


@dataclass
class Decided:
    side: int
    proba_up: float | None
    reason: str


class CycleContext:
    """Everything one cycle needs, read once."""

    def __init__(self, account: TradingAccount, now: datetime, settings: StrategySettings,
                 lock: AccountLock | None, paper_clock: bool, dry_run: bool, feature_set: Any,
                 feed: Any) -> None:
        self.account, self.now, self.settings = account, now, settings
        self.lock, self.paper_clock, self.dry_run = lock, paper_clock, dry_run
        self.feature_set, self.feed = feature_set, feed or DatabaseFeed()
        self.symbol, self.timeframe = settings.symbol.upper(), settings.timeframe.upper()
        self.outcome = CycleOutcome(account.pk, now, DONE, dry_run=dry_run, symbol=self.symbol,
                                    timeframe=self.timeframe)
        self._broker = None

    @classmethod
    def build(cls, account: TradingAccount, now: datetime, *, lock: AccountLock | None,
              paper_clock: bool, dry_run: bool, feature_set: Any, feed: Any) -> CycleContext:
        from trading.services.strategy import strategy_settings_get

        settings = strategy_settings_get(account.pk)
        return cls(account, now, settings, lock, paper_clock, dry_run, feature_set, feed)

    # -- helpers ---------------------------------------------------------------------------
    @property
    def broker(self):
        if self._broker is None:
            from trading.brokers import broker_for
            from trading.services import paper_broker_at

            self._broker = (paper_broker_at(self.account, self.now) if self.paper_clock
                            else broker_for(self.account))
        return self._broker

    def _ensure_lock(self) -> None:
        if self.lock is not None:
            self.lock.ensure_held()

    def _finish(self, status: str, reason: str = "") -> CycleOutcome:
        self.outcome.status = status
        if reason:
            self.outcome.reason = reason
        return self.outcome

    # -- the steps -------------------------------------------------------------------------
    def run(self) -> CycleOutcome:
        from mlops.selectors import model_active

        holidays = holidays_around(self.now)
        # Can an order fill now? A decision taken at a bar's close fills at the next open
        # (strategy.fill_time); when the market closes with the bar (Friday's last bar, the
        # eve of a holiday) the signal is recorded now and its orders wait for the reopening.
        self.fill_open = market_open_at(self.now, holidays)
        self.reopening = False
        if not freshness.market_open(self.now, self.timeframe, holidays):
            if not self.fill_open:
                return self._finish(MARKET_CLOSED, "the bar that just closed covered no "
                                                   "market hours")
            # The first open after a closed market: the last closed bar's decision (deferred
            # at its close) fills now.
            self.reopening = True
        model = model_active(self.symbol, self.timeframe)
        if model is None:
            return self._finish(NO_MODEL, f"no active model for {self.symbol} "
                                          f"{self.timeframe}")
        self.model = model
        self.outcome.model_id = model.pk
        feature_set = self._feature_set()
        lookback = feature_set.lookback_bars or 3000
        try:
            bars = self.feed.closed_bars(self.symbol, self.timeframe,
                                         max(lookback, strategy.ATR_WARMUP_BARS), self.now)
        except DataError as exc:
            bars = pd.DataFrame(columns=["open", "high", "low", "close"],
                                index=pd.DatetimeIndex([], tz="UTC"))
            logger.info("cycle %s: %s", self.account.pk, exc)
        verdict = freshness.check_fresh(bars.index, self.now, self.timeframe, holidays,
                                        lookback=min(lookback, max(len(bars), 1)))
        bar_time = verdict.bar_time if verdict.bar_time is not None else \
            freshness.just_closed_bar(self.now, self.timeframe)
        self.outcome.bar_time = pd.Timestamp(bar_time).to_pydatetime()
        existing = self._existing_signal()
        if existing is not None and not self.reopening and self._processed(existing):
            return self._report_existing(existing)
        if not verdict.ok:
            return self._hold_stale(verdict)
        bars = bars[bars.index <= verdict.bar_time]
        decided = self._decide(bars, feature_set)
        if self.dry_run:
            return self._dry_run(bars, decided)
        signal = existing or self._signal(decided)
        side = SIDE[signal.decision]
        if not self.fill_open:
            self.outcome.signal_id = signal.pk
            self.outcome.decision = signal.decision
            return self._finish(DEFERRED, "the market is closed at the fill time: the "
                                          "decision's orders wait for the reopening")
        if existing is not None:
            self.outcome.signal_id, self.outcome.decision = signal.pk, signal.decision
            self.outcome.probabilities, self.outcome.reason = signal.probabilities, signal.reason
        self._ensure_lock()
        side_open = self._manage_positions(bars, side)
        self._stops()
        self._ensure_lock()
        self._enter(bars, signal, side, side_open)
        return self.outcome

    def _feature_set(self):
        from mlops import pipeline

        return self.feature_set or pipeline.feature_set_for_id(self.model.feature_set_id)

    def _existing_signal(self) -> Signal | None:
        return Signal.objects.filter(account=self.account, model=self.model, symbol=self.symbol,
                                     bar_time=self.outcome.bar_time).first()

    def _processed(self, signal: Signal) -> bool:
        """Whether an earlier run finished this bar (a HOLD or a refused entry, or its orders
        are final). A BUY/SELL signal without an order, or whose order is still in flight
        (pending: killed before the send; sent/unknown: killed or cut off around it), is an
        earlier run that died mid-way: resume (``signal_order_place`` continues that same
        order: sends a pending one, looks a sent one up by client id, never sends twice)."""
        from trading.models import IN_FLIGHT

        if (signal.decision == Decision.HOLD or REFUSED_PREFIX in signal.reason
                or NO_ENTRY_PREFIX in signal.reason):
            return True
        orders = Order.objects.filter(signal=signal)
        return orders.exists() and not orders.filter(status__in=IN_FLIGHT).exists()

    def _report_existing(self, signal: Signal) -> CycleOutcome:
        self.outcome.decision = signal.decision
        self.outcome.probabilities = signal.probabilities
        self.outcome.signal_id = signal.pk
        order = Order.objects.filter(signal=signal).first()
        if order is not None:
            self.outcome.order_id, self.outcome.order_status = order.pk, order.status
        return self._finish(ALREADY, f"bar already processed (signal {signal.pk}): "
                                     f"{signal.reason}")

    def _hold_stale(self, verdict: freshness.FreshnessVerdict) -> CycleOutcome:
        reason = f"{verdict.reason}: {verdict.message}"
        self.outcome.decision = Decision.HOLD
        if not self.dry_run:
            signal = self._record(Decision.HOLD, {}, reason)
            self.outcome.signal_id = signal.pk
        return self._finish(HOLD_STALE if not self.dry_run else DRY_RUN, reason)

    def _record(self, decision: str, probabilities: dict, reason: str) -> Signal:
        from trading.services import signal_record

        return signal_record(self.account.pk, model_id=self.model.pk, symbol=self.symbol,
                             bar_time=self.outcome.bar_time, decision=decision,
                             probabilities=probabilities, timeframe=self.timeframe,
                             reason=reason)

    def _decide(self, bars: pd.DataFrame, feature_set: Any) -> Decided:
        """The model's P(up) on the signal bar and the HOLD gate at the threshold."""
        from mlops import gating

        threshold = (self.settings.threshold if self.settings.threshold is not None
                     else float(self.model.threshold))
        try:
            p_up = self._proba_up(bars, feature_set)
        except DataError as exc:
            return Decided(0, None, f"no prediction: {exc}")
        if p_up is None or not math.isfinite(p_up):
            return Decided(0, None, "features undefined on this bar (not enough history)")
        side = int(gating.gate([p_up], threshold)[0])
        confidence = max(p_up, 1.0 - p_up)
        if side == 0:
            return Decided(0, p_up, f"HOLD gate: confidence {confidence:.3f} below the "
                                    f"threshold {threshold:.2f}")
        return Decided(side, p_up, f"P(up) {p_up:.3f} at threshold {threshold:.2f}")

    def _proba_up(self, bars: pd.DataFrame, feature_set: Any) -> float | None:
        if self.dry_run:
            from mlops.services.live import model_predict_latest

            frame = model_predict_latest(self.model, 1, self.now, feature_set, bars=bars)
            value = frame["proba_up"].iloc[-1]
            return None if pd.isna(value) else float(value)
        from mlops.services.live import prediction_make

        prediction = prediction_make(self.symbol, self.timeframe, self.now, feature_set,
                                     bars=bars)
        if prediction is None:
            raise DataError("the active model changed during the cycle")
        if prediction.model_id != self.model.pk:
            raise DataError(f"the active model changed to #{prediction.model_id}")
        return prediction.proba_up

    def _signal(self, decided: Decided) -> Signal:
        probabilities = ({} if decided.proba_up is None else
                         {"BUY": decided.proba_up, "SELL": 1.0 - decided.proba_up})
        signal = self._record(NAME[decided.side], probabilities, decided.reason)
        self.outcome.signal_id = signal.pk
        self.outcome.decision = signal.decision
        self.outcome.probabilities = signal.probabilities
        self.outcome.reason = signal.reason
        return signal

    # -- positions -------------------------------------------------------------------------
    def _open_positions(self) -> list[Position]:
        return list(Position.objects.filter(
            account=self.account, symbol=self.symbol, status=PositionStatus.OPEN,
            model__isnull=False, broker_ticket__isnull=False).order_by("entry_time", "id"))

    def _manage_positions(self, bars: pd.DataFrame, signal_side: int) -> int:
        """SL/TP closes first (the broker's, inside the bar), then the close decision per
        open position. Returns the side still open after this step (0: none)."""
        from trading.services import position_close, positions_sync

        before = {p.pk for p in self._open_positions()}
        if before:
            report = positions_sync(self.account.pk, broker=self.broker)
            self.outcome.actions += [PositionAction(pk, "closed_by_broker")
                                     for pk in report.closed]
        side_open = 0
        for position in self._open_positions():
            side = 1 if position.side == Decision.BUY else -1
            held = strategy.bars_held_at_fill(bars.index, position.entry_time, self.timeframe)
            exit_reason, _enter = strategy.close_decision(
                side, signal_side, held, self.settings.exit_on_opposite,
                self.settings.max_bars_held)
            if exit_reason is None:
                side_open = side
                self.outcome.actions.append(PositionAction(position.pk, "kept"))
                continue
            self._ensure_lock()
            result = position_close(position.pk, broker=self.broker,
                                    reason=f"{exit_reason}: {held} bar(s) held at the fill"
                                    if exit_reason == strategy.TIME_EXIT else
                                    f"{exit_reason}: signal {NAME[signal_side]} on "
                                    f"{self.outcome.bar_time:%Y-%m-%d %H:%M}")
            order = result.order
            self.outcome.actions.append(PositionAction(position.pk, exit_reason, order.pk,
                                                       order.status, result.message))
            if order.status not in ("filled", "partially_filled"):
                side_open = side   # still open: no new entry this bar
        return side_open

    def _stops(self) -> None:
        """The automatic stops on what the positions step closed (position_close and
        positions_sync already run them after each close; this also covers closes recorded
        by another path since the last cycle). An engaged switch refuses the entry below."""
        from trading.services.stops import stops_enforce

        self.outcome.engaged_switches += [s.pk for s in stops_enforce(self.account.pk,
                                                                      now=self.now)]

    # -- the entry -------------------------------------------------------------------------
    def _enter(self, bars: pd.DataFrame, signal: Signal, signal_side: int,
               side_open: int) -> None:
        from trading.services import signal_order_place

        if signal_side == 0:
            return
        if side_open != 0:
            self._no_entry(signal, "a position is already open" if side_open == signal_side
                           else "the open position was not closed")
            return
        resumed = Order.objects.filter(signal=signal).first()
        if resumed is not None:
            # An earlier run of this bar died with this order in flight: continue that same
            # order (found by its key). Not re-gated: its own exposure would refuse it.
            volume, sl, tp = resumed.volume, resumed.sl, resumed.tp
        else:
            plan = self._entry_plan(bars, signal_side, signal)
            if plan is None:
                return
            volume, levels = plan
            sl, tp = levels.sl, levels.tp
        self._ensure_lock()
        result = signal_order_place(signal.pk, volume=volume, sl=sl, tp=tp,
                                    broker=self.broker,
                                    at=self.now if self.paper_clock else None)
        order = result.order
        self.outcome.order_id, self.outcome.order_status = order.pk, order.status
        self.outcome.order_message = result.message
        self.outcome.order = {"side": order.side, "volume": str(order.volume),
                              "sl": None if order.sl is None else str(order.sl),
                              "tp": None if order.tp is None else str(order.tp),
                              "fill_price": None if order.fill_price is None
                              else str(order.fill_price)}

    def _no_entry(self, signal: Signal | None, why: str) -> None:
        """This bar ends without an entry: say why in the outcome and on the signal (the
        signal's reason then marks the bar as finished for any later run of it)."""
        text = f"{NO_ENTRY_PREFIX}{why}"
        self.outcome.reason += f"; {text}"
        if signal is not None:
            Signal.objects.filter(pk=signal.pk).update(reason=f"{signal.reason}; {text}"[:2000])

    def _entry_refused(self, signal: Signal) -> bool:
        """Ask the risk gate first (a read, no broker call): while a kill switch or a risk
        rule refuses entries, a cycle records why on its signal and leaves the broker alone
        (no quote, no order row per bar). Only a refusal is taken from this early look:
        ``order_place`` checks the gate again inside the locked order transaction, which
        is what guarantees that nothing slips through."""
        from trading.services.gate import order_gate

        refusal = order_gate(self.account, self.model.pk, self.symbol, self.now)
        if refusal is None:
            return False
        text = f"{REFUSED_PREFIX}{refusal.rule}: {refusal.reason}"
        Signal.objects.filter(pk=signal.pk).update(reason=f"{signal.reason}; {text}"[:2000])
        self.outcome.order_status = "refused"
        self.outcome.order_message = text
        self.outcome.reason = f"{self.outcome.reason}; {text}"
        return True

    def _entry_plan(self, bars: pd.DataFrame, side: int, signal: Signal | None = None):
        """(volume, SL/TP levels) of the entry, or None (why is added to the reason). The
        kernel's order: ATR defined, then the volume, then the risk gate, then the price."""
        settings = self.settings
        atr = strategy.atr_at_signal(bars, settings.atr_period)
        uses_atr = settings.sl_atr is not None or settings.tp_atr is not None
        if uses_atr and not atr > 0.0:
            self._no_entry(signal, f"ATR({settings.atr_period}) undefined")
            return None
        spec = self._spec()
        sl_distance = math.nan if settings.sl_atr is None else settings.sl_atr * atr
        volume = strategy.entry_lots(
            settings.lots, settings.risk_per_trade_pct, self._balance(), sl_distance,
            spec.value_per_price_unit, spec.volume_step, spec.volume_min, spec.volume_max)
        if volume <= 0:
            self._no_entry(signal, "the risk-sized volume is below the minimum")
            return None
        if signal is not None and self._entry_refused(signal):
            return None
        bid, ask = self._quote(bars, spec)
        levels = strategy.entry_levels(side, bid, ask, self._slippage(spec), atr,
                                       settings.sl_atr, settings.tp_atr, spec.digits)
        return volume, levels

    def _spec(self):
        """The symbol's contract facts: the broker's (read at run time), or in a dry run the
        instrument row (no broker call)."""
        if not self.dry_run:
            return self.broker.symbol_info(self.symbol)
        from trading.models import Instrument
        from trading.pnl import InstrumentSpec

        return InstrumentSpec.from_instrument(Instrument.objects.get(symbol=self.symbol))

    def _quote(self, bars: pd.DataFrame, spec) -> tuple[Decimal, Decimal]:
        """The quote the entry will fill at. A dry run touches no broker (a paper broker call
        would bring its book up to the clock: a write): it estimates the quote from the
        signal bar's close and the paper spread."""
        if not self.dry_run:
            tick = self.broker.tick(self.symbol)
            return tick.bid, tick.ask
        bid = spec.round_price(Decimal(repr(float(bars["close"].iloc[-1]))))
        paper = getattr(self.account, "paper", None) if self.account.broker == Broker.PAPER \
            else None
        spread = spec.pips(paper.spread_pips) if paper is not None else Decimal("0")
        return bid, bid + spread

    def _slippage(self, spec) -> float:
        """The paper broker's slippage (its fills are known in advance); a live broker's is
        unknown: SL/TP are measured from the quote."""
        if self.account.broker != Broker.PAPER:
            return 0.0
        paper = getattr(self.account, "paper", None)
        return 0.0 if paper is None else float(spec.pips(paper.slippage_pips))

    def _balance(self) -> Decimal:
        from trading.services.gate import realised_equity

        return realised_equity(self.account)

    # -- dry run ---------------------------------------------------------------------------
    def _dry_run(self, bars: pd.DataFrame, decided: Decided) -> CycleOutcome:
        self.outcome.decision = NAME[decided.side]
        if decided.proba_up is not None:
            self.outcome.probabilities = {"BUY": decided.proba_up,
                                          "SELL": 1.0 - decided.proba_up}
        self.outcome.reason = decided.reason
        side_open = 0
        for position in self._open_positions():
            side = 1 if position.side == Decision.BUY else -1
            held = strategy.bars_held_at_fill(bars.index, position.entry_time, self.timeframe)
            exit_reason, _ = strategy.close_decision(side, decided.side, held,
                                                     self.settings.exit_on_opposite,
                                                     self.settings.max_bars_held)
            self.outcome.actions.append(PositionAction(position.pk, exit_reason or "kept",
                                                       message="dry run: nothing sent"))
            side_open = side_open if exit_reason else side
        if decided.side != 0 and side_open == 0:
            plan = self._entry_plan(bars, decided.side)
            if plan is not None:
                volume, levels = plan
                self.outcome.order = {"side": NAME[decided.side], "volume": str(volume),
                                      "sl": None if levels.sl is None else str(levels.sl),
                                      "tp": None if levels.tp is None else str(levels.tp),
                                      "fill_price": None}
                self.outcome.order_message = ("dry run: nothing sent; SL/TP estimated from "
                                              "the signal bar's close")
        return self._finish(DRY_RUN)
