"""The trading half of the MetaTrader5 simulator: a simulated hedging account (pure: no Django).

Same function names, request fields, result namedtuples and return codes as the real module:
``account_info``, ``terminal_info``, ``order_check``, ``order_send`` (``TRADE_ACTION_DEAL``
to open, or to close with ``position``; ``TRADE_ACTION_SLTP``), ``positions_get``,
``positions_total``, ``orders_get``, ``orders_total``, ``history_deals_get``,
``history_orders_get``. Money goes through :mod:`trading.pnl` (profit, margin); SL/TP trigger
with :func:`trading.fills.first_touch` on the fed bars as the clock advances, so a position can
be closed by its stop while NusaTrade is not looking.

Simulator choices where the real server is not documented or varies by broker:

- hedging account; fills at the current quote (bid/ask of the finest feed's current bar,
  plus any :meth:`TradingSimulator.move_quote` shift); a request ``price`` more than
  ``deviation`` points away from it is requoted (10004), as in instant execution;
- the bar a position opened in is not searched for its SL/TP (what happened inside it before
  and after the fill is unknown); every later bar is, the forming one as far as it has formed;
- margin is taken at the opening price (:func:`trading.pnl.margin_required`); the market is
  closed (10018) when no fed bar covers the clock; ``filling_mode`` bits allow FOK/IOC and
  RETURN is always allowed (market execution);
- every request value must be a plain ``int``/``float``/``str`` (what survives mt5linux's
  remote call): anything else fails with ``RES_E_INVALID_PARAMS``.

Faults (:meth:`TradingSimulator.queue_fault`, one per ``order_send`` call, in order) and
:meth:`TradingSimulator.open_by_hand` script what the tests need; :attr:`executed_orders`
counts the orders ``order_send`` really executed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from marketdata import timeframes
from trading.brokers import mt5_constants as c
from trading.brokers import retcodes as rc
from trading.brokers.mt5 import RES_E_INTERNAL_FAIL_CONNECT, RES_E_INTERNAL_FAIL_TIMEOUT
from trading.brokers.mt5sim_book import (
    CHECK_OK,
    FAULT_CODES,
    FAULT_KINDS,
    PLAIN,
    REQUEST_DEFAULTS,
    Account,
    AccountInfo,
    Book,
    Executed,
    Fault,
    OrderCheckResult,
    OrderSendResult,
    Position,
    Refused,
    TerminalInfo,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
    group_match,
    opposite,
    round_down,
)
from trading.fills import NO_EXIT, STOP_LOSS, first_touch
from trading.pnl import InstrumentSpec, margin_level, margin_required, profit, to_decimal


class TradingSimulator:
    """Trading functions of :class:`trading.brokers.mt5sim.MT5Simulator` (a mixin: it relies
    on the host's ``_enter``, ``_symbols``, ``_tick``, ``_error``, ``_ok``, ``now`` and
    ``server_timezone``)."""

    def _init_trading(self, *, balance: Decimal, leverage: int, currency: str) -> None:
        self._account = Account(balance=to_decimal(balance), leverage=int(leverage),
                                 currency=currency)
        self._book = Book()
        self._shifts: dict[str, Decimal] = {}
        self._quotes: dict[tuple, tuple[Decimal, Decimal] | None] = {}

    # --- test controls ---------------------------------------------------------------------
    @property
    def executed_orders(self) -> int:
        """How many orders ``order_send`` executed (SL/TP closes and hand trades excluded)."""
        return sum(1 for e in self._book.executed if e.source == "order_send")

    @property
    def executed(self) -> list[Executed]:
        return list(self._book.executed)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request dict ``order_check``/``order_send`` received, as received."""
        return list(self._book.requests)

    def set_commission(self, per_lot: Decimal | str) -> None:
        self._account.commission_per_lot = to_decimal(per_lot)

    def queue_fault(self, kind: str, times: int = 1, **options: Any) -> None:
        """Script the next ``times`` answers of ``order_send`` (after any already queued)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if kind == "reject" and options.get("answer") is None:
            raise ValueError("a reject fault needs answer=<retcode>")
        for _ in range(times):
            self._book.faults.append(Fault(kind, **options))

    def move_quote(self, symbol: str, points: int) -> None:
        """Shift ``symbol``'s quotes by ``points`` (a requote's new price)."""
        spec = self._symbols[symbol].spec
        self._shifts[symbol] = self._shifts.get(symbol, Decimal("0")) + spec.point * points

    def open_by_hand(self, symbol: str, side: str, volume: Decimal | str, *,
                     sl: Decimal | str | None = None, tp: Decimal | str | None = None,
                     magic: int = 0, comment: str = "") -> int:
        """A position opened in the terminal by a person (reason CLIENT): its ticket."""
        order_type = c.ORDER_TYPE_BUY if side.upper() == "BUY" else c.ORDER_TYPE_SELL
        request = dict(REQUEST_DEFAULTS, action=c.TRADE_ACTION_DEAL, symbol=symbol,
                       volume=float(to_decimal(volume)), type=order_type, magic=int(magic),
                       comment=comment, sl=float(to_decimal(sl)) if sl is not None else 0.0,
                       tp=float(to_decimal(tp)) if tp is not None else 0.0,
                       type_filling=c.ORDER_FILLING_RETURN)
        self._sync()
        plan = self._plan_open(request)
        order, _deal = self._execute_open(request, plan, reason=c.DEAL_REASON_CLIENT,
                                          source="hand")
        return order

    # --- account ---------------------------------------------------------------------------
    def account_info(self) -> AccountInfo | None:
        if not self._enter("account_info"):
            return None
        self._sync()
        equity, margin, floating = self._money()
        level = margin_level(equity, margin)
        acct = self._account
        return self._ok(AccountInfo(
            login=int(self._state.login or acct.login), trade_mode=0, leverage=acct.leverage,
            limit_orders=200, margin_so_mode=0, trade_allowed=True, trade_expert=True,
            margin_mode=2, currency_digits=2, fifo_close=False, balance=float(acct.balance),
            credit=0.0, profit=float(floating), equity=float(equity), margin=float(margin),
            margin_free=float(equity - margin), margin_level=float(level or 0),
            margin_so_call=100.0, margin_so_so=50.0, margin_initial=0.0, margin_maintenance=0.0,
            assets=0.0, liabilities=0.0, commission_blocked=0.0, name=acct.name,
            server=acct.server, currency=acct.currency, company=acct.company))

    def terminal_info(self) -> TerminalInfo | None:
        if not self._enter("terminal_info"):
            return None
        return self._ok(TerminalInfo(
            community_account=False, community_connection=False, connected=True,
            dlls_allowed=False, trade_allowed=True, tradeapi_disabled=False,
            email_enabled=False, ftp_enabled=False, notifications_enabled=False, mqid=False,
            build=self._build, maxbars=self._max_bars, codepage=0, ping_last=1000,
            community_balance=0.0, retransmission=0.0, company=self._account.company,
            name="MetaTrader 5 (simulated)", language="English", path="", data_path="",
            commondata_path=""))

    def _money(self) -> tuple[Decimal, Decimal, Decimal]:
        """(equity, margin, floating P/L) at the current quotes."""
        margin = floating = Decimal("0")
        for pos in self._book.positions.values():
            spec = self._symbols[pos.symbol].spec
            margin += margin_required(pos.volume, pos.price_open, spec, self._account.leverage)
            floating += self._floating(pos, spec)
        return self._account.balance + floating, margin, floating

    def _floating(self, pos: Position, spec: InstrumentSpec) -> Decimal:
        price = self._close_price(pos)
        if price is None:
            return Decimal("0")
        return profit(pos.side, pos.volume, pos.price_open, price, spec) + pos.swap

    # --- quotes ----------------------------------------------------------------------------
    def _quote(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """(bid, ask) now, or None when the market is closed (no fed bar covers the clock).
        Memoised per (symbol, clock reading, quote shift): equity over many positions reads
        the same quote again and again within one call."""
        key = (symbol, self.now().value, self._shifts.get(symbol))
        if key not in self._quotes:
            if len(self._quotes) > 1024:
                self._quotes.clear()
            entry = self._symbols[symbol]
            tick = self._tick(entry)
            digits = entry.spec.digits
            self._quotes[key] = (None if tick is None or not self._market_open(entry) else
                                 (round(to_decimal(tick.bid), digits),
                                  round(to_decimal(tick.ask), digits)))
        return self._quotes[key]

    def _market_open(self, entry: Any) -> bool:
        from trading.brokers.mt5sim import _finest

        bars = entry.bars(_finest(entry))
        now_ns = self.now().value
        index = int(np.searchsorted(bars.time, now_ns, side="right")) - 1
        return index >= 0 and now_ns < bars.time[index] + bars.step

    def _close_price(self, pos: Position) -> Decimal | None:
        quote = self._quote(pos.symbol)
        if quote is None:
            return None
        return quote[0] if pos.type == c.POSITION_TYPE_BUY else quote[1]

    # --- requests --------------------------------------------------------------------------
    def _request(self, function: str, request: Any) -> dict[str, Any] | None:
        """The request as a dict (recorded), or None with last_error for a malformed one."""
        if not isinstance(request, dict):
            return self._error((-2, "Terminal: Invalid params"))
        self._book.requests.append(dict(request))
        unknown = set(request) - set(TradeRequest._fields)
        bad = [k for k, v in request.items() if type(v) not in PLAIN]  # exact types
        if unknown or bad:
            return self._error((-2, f"Terminal: Invalid params in {function}: "
                                    f"{sorted(unknown | set(bad))}"))
        return dict(REQUEST_DEFAULTS, **request)

    def order_check(self, request: dict[str, Any]) -> OrderCheckResult | None:
        if not self._enter("order_check"):
            return None
        req = self._request("order_check", request)
        if req is None:
            return None
        self._sync()
        equity, margin, _floating = self._money()
        try:
            plan = self._plan(req)
        except Refused as refused:
            code, comment = refused.retcode, refused.comment
        else:
            code, comment = CHECK_OK
            margin += plan.get("margin", Decimal("0"))
        level = margin_level(equity, margin)
        return self._ok(OrderCheckResult(
            retcode=code, balance=float(self._account.balance), equity=float(equity),
            profit=0.0, margin=float(margin), margin_free=float(equity - margin),
            margin_level=float(level or 0), comment=comment, request=TradeRequest(**req)))

    def order_send(self, request: dict[str, Any]) -> OrderSendResult | None:
        if not self._enter("order_send"):
            return None
        req = self._request("order_send", request)
        if req is None:
            return None
        self._sync()
        fault = self._book.faults.popleft() if self._book.faults else None
        if fault is not None and fault.kind == "disconnect":
            self._state.initialized = False
            return self._error((RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection"))
        if fault is not None and fault.kind in FAULT_CODES:
            if fault.shift_points:
                self.move_quote(req["symbol"], fault.shift_points)
            return self._ok(self._result(FAULT_CODES[fault.kind], req))
        if fault is not None and fault.kind == "reject":
            return self._ok(self._result(int(fault.answer), req))
        if fault is not None and fault.kind == "timeout" and not fault.executed:
            return self._lost_answer(fault, req)
        try:
            plan = self._plan(req)
            if fault is not None and fault.kind == "partial":
                plan = self._partial(plan, fault.fraction)
            result = self._execute(req, plan)
        except Refused as refused:
            return self._ok(self._result(refused.retcode, req, comment=refused.comment))
        if fault is not None and fault.kind == "timeout":
            return self._lost_answer(fault, req)
        return self._ok(result)

    def _lost_answer(self, fault: Fault, req: dict[str, Any]) -> OrderSendResult | None:
        if fault.answer is None:
            return self._error((RES_E_INTERNAL_FAIL_TIMEOUT, "Terminal: IPC timeout"))
        return self._ok(self._result(int(fault.answer), req))

    def _result(self, retcode: int, req: dict[str, Any], *, deal: int = 0, order: int = 0,
                volume: Decimal = Decimal("0"), price: Decimal = Decimal("0"),
                comment: str = "") -> OrderSendResult:
        quote = self._quote(req["symbol"]) if req["symbol"] in self._symbols else None
        bid, ask = quote if quote is not None else (Decimal("0"), Decimal("0"))
        return OrderSendResult(
            retcode=retcode, deal=deal, order=order, volume=float(volume), price=float(price),
            bid=float(bid), ask=float(ask), comment=comment or rc.meaning(retcode),
            request_id=next(self._book.tickets), retcode_external=0,
            request=TradeRequest(**req))

    # --- validation ------------------------------------------------------------------------
    def _plan(self, req: dict[str, Any]) -> dict[str, Any]:
        """What the request would do, or Refused with the server's retcode."""
        if req["symbol"] not in self._symbols:
            raise Refused(rc.INVALID, "Unknown symbol")
        if req["action"] == c.TRADE_ACTION_SLTP:
            return self._plan_sltp(req)
        if req["action"] != c.TRADE_ACTION_DEAL:
            raise Refused(rc.INVALID_ORDER, "Only market orders and SL/TP changes simulated")
        if req["position"]:
            return self._plan_close(req)
        return self._plan_open(req)

    def _common(self, req: dict[str, Any]) -> tuple[InstrumentSpec, Decimal, Decimal, Decimal]:
        """(spec, volume, bid, ask) after the checks every market order passes."""
        spec = self._symbols[req["symbol"]].spec
        if req["type"] not in (c.ORDER_TYPE_BUY, c.ORDER_TYPE_SELL):
            raise Refused(rc.INVALID_ORDER)
        quote = self._quote(req["symbol"])
        if quote is None:
            raise Refused(rc.MARKET_CLOSED)
        volume = to_decimal(req["volume"])
        if (volume < spec.volume_min or volume > spec.volume_max
                or volume % spec.volume_step != 0):
            raise Refused(rc.INVALID_VOLUME)
        if not self._filling_allowed(spec, req["type_filling"]):
            raise Refused(rc.INVALID_FILL, "Unsupported filling mode")
        bid, ask = quote
        fill = ask if req["type"] == c.ORDER_TYPE_BUY else bid
        price = to_decimal(req["price"])
        if price and price != spec.round_price(price):
            raise Refused(rc.INVALID_PRICE)
        if price and abs(price - fill) > spec.point * int(req["deviation"]):
            raise Refused(rc.REQUOTE)
        return spec, volume, bid, ask

    @staticmethod
    def _filling_allowed(spec: InstrumentSpec, filling: int) -> bool:
        if filling == c.ORDER_FILLING_FOK:
            return bool(spec.filling_modes & c.SYMBOL_FILLING_FOK)
        if filling == c.ORDER_FILLING_IOC:
            return bool(spec.filling_modes & c.SYMBOL_FILLING_IOC)
        return filling == c.ORDER_FILLING_RETURN

    def _plan_open(self, req: dict[str, Any]) -> dict[str, Any]:
        spec, volume, bid, ask = self._common(req)
        side = 1 if req["type"] == c.ORDER_TYPE_BUY else -1
        sl, tp = self._stops(spec, req, side, bid, ask)
        fill = ask if side == 1 else bid
        margin = margin_required(volume, fill, spec, self._account.leverage)
        equity, used, _floating = self._money()
        if margin > equity - used:
            raise Refused(rc.NO_MONEY)
        return {"kind": "open", "spec": spec, "volume": volume, "price": fill, "sl": sl,
                "tp": tp, "margin": margin}

    def _stops(self, spec: InstrumentSpec, req: dict[str, Any], side: int, bid: Decimal,
               ask: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """SL/TP on the price grid, on the right side and at least ``stops_level`` points from
        the price they trigger on (bid for a long, ask for a short), else 10016."""
        levels = []
        for key in ("sl", "tp"):
            value = to_decimal(req[key])
            if value and value != spec.round_price(value):
                raise Refused(rc.INVALID_STOPS, f"{key.upper()} not on the price grid")
            levels.append(value or None)
        sl, tp = levels
        trigger = bid if side == 1 else ask
        distance = spec.point * spec.stops_level
        if sl is not None and side * (trigger - sl) < max(distance, spec.point):
            raise Refused(rc.INVALID_STOPS)
        if tp is not None and side * (tp - trigger) < max(distance, spec.point):
            raise Refused(rc.INVALID_STOPS)
        return sl, tp

    def _position(self, ticket: int) -> Position:
        pos = self._book.positions.get(int(ticket))
        if pos is None:
            code = rc.POSITION_CLOSED if int(ticket) in self._book.closed else rc.INVALID
            raise Refused(code, "Position not found" if code == rc.INVALID else "")
        return pos

    def _plan_close(self, req: dict[str, Any]) -> dict[str, Any]:
        pos = self._position(req["position"])
        spec, volume, bid, ask = self._common(req)
        if req["symbol"] != pos.symbol or req["type"] != opposite(pos.type):
            raise Refused(rc.INVALID, "Close must be the opposite type on the same symbol")
        if volume > pos.volume:
            raise Refused(rc.INVALID_CLOSE_VOLUME)
        return {"kind": "close", "spec": spec, "volume": volume, "position": pos,
                "price": bid if pos.type == c.POSITION_TYPE_BUY else ask}

    def _plan_sltp(self, req: dict[str, Any]) -> dict[str, Any]:
        pos = self._position(req["position"])
        spec = self._symbols[pos.symbol].spec
        quote = self._quote(pos.symbol)
        if quote is None:
            raise Refused(rc.MARKET_CLOSED)
        bid, ask = quote
        trigger = bid if pos.side == 1 else ask
        freeze = spec.point * spec.freeze_level
        for level in (pos.sl, pos.tp):
            if freeze and level is not None and abs(trigger - level) <= freeze:
                raise Refused(rc.FROZEN)
        sl, tp = self._stops(spec, req, pos.side, bid, ask)
        if (sl, tp) == (pos.sl, pos.tp):
            raise Refused(rc.NO_CHANGES)
        return {"kind": "sltp", "position": pos, "sl": sl, "tp": tp}

    @staticmethod
    def _partial(plan: dict[str, Any], fraction: Decimal) -> dict[str, Any]:
        spec = plan["spec"]
        part = max(spec.volume_min, round_down(plan["volume"] * fraction, spec.volume_step))
        return dict(plan, volume=min(part, plan["volume"]), partial=True)

    # --- execution -------------------------------------------------------------------------
    def _execute(self, req: dict[str, Any], plan: dict[str, Any]) -> OrderSendResult:
        if plan["kind"] == "sltp":
            pos = plan["position"]
            pos.sl, pos.tp, pos.time_update = plan["sl"], plan["tp"], self.now()
            return self._result(rc.DONE, req, comment="Request executed")
        if plan["kind"] == "close":
            order, deal = self._execute_close(req, plan)
        else:
            order, deal = self._execute_open(req, plan, reason=c.DEAL_REASON_EXPERT,
                                             source="order_send")
        code = rc.DONE_PARTIAL if plan.get("partial") else rc.DONE
        return self._result(code, req, deal=deal, order=order, volume=plan["volume"],
                            price=plan["price"], comment="Request executed")

    def _next(self) -> int:
        return next(self._book.tickets)

    def _execute_open(self, req: dict[str, Any], plan: dict[str, Any], *, reason: int,
                      source: str) -> tuple[int, int]:
        now = self.now()
        order, deal = self._next(), self._next()
        comment = str(req["comment"])[: c.COMMENT_LENGTH]
        entry = self._symbols[req["symbol"]]
        pos = Position(
            ticket=order, symbol=req["symbol"], type=req["type"], volume=plan["volume"],
            price_open=plan["price"], sl=plan["sl"], tp=plan["tp"], magic=int(req["magic"]),
            comment=comment, reason=reason, time=now, time_update=now,
            checked_from=self._bar_end(entry, now))
        self._book.positions[order] = pos
        commission = self._charge(plan["volume"])
        self._record(order, deal, req["type"], c.DEAL_ENTRY_IN, pos, plan["volume"],
                     plan["price"], reason, Decimal("0"), commission, comment, req,
                     volume_initial=to_decimal(req["volume"]))
        self._book.executed.append(Executed(order, deal, source, dict(req)))
        return order, deal

    def _execute_close(self, req: dict[str, Any], plan: dict[str, Any]) -> tuple[int, int]:
        order, deal = self._next(), self._next()
        self._close(plan["position"], plan["volume"], plan["price"], order, deal,
                    c.DEAL_REASON_EXPERT, str(req["comment"])[: c.COMMENT_LENGTH],
                    int(req["magic"]), req)
        self._book.executed.append(Executed(order, deal, "order_send", dict(req)))
        return order, deal

    def _charge(self, volume: Decimal) -> Decimal:
        commission = -(self._account.commission_per_lot * volume).quantize(Decimal("0.01"))
        self._account.balance += commission
        return commission

    def _close(self, pos: Position, volume: Decimal, price: Decimal, order: int, deal: int,
               reason: int, comment: str, magic: int, req: dict[str, Any] | None,
               when: pd.Timestamp | None = None) -> None:
        spec = self._symbols[pos.symbol].spec
        pnl = profit(pos.side, volume, pos.price_open, price, spec)
        self._account.balance += pnl
        commission = self._charge(volume)
        self._record(order, deal, opposite(pos.type), c.DEAL_ENTRY_OUT, pos, volume, price,
                     reason, pnl, commission, comment, req, magic=magic, when=when)
        pos.volume -= volume
        if pos.volume <= 0:
            del self._book.positions[pos.ticket]
            self._book.closed.add(pos.ticket)

    def _record(self, order: int, deal: int, order_type: int, entry: int, pos: Position,
                volume: Decimal, price: Decimal, reason: int, pnl: Decimal,
                commission: Decimal, comment: str, req: dict[str, Any] | None, *,
                magic: int | None = None, when: pd.Timestamp | None = None,
                volume_initial: Decimal | None = None) -> None:
        seconds = self._server_seconds(when if when is not None else self.now())
        magic = pos.magic if magic is None else magic
        self._book.deals.append(TradeDeal(
            ticket=deal, order=order, time=seconds, time_msc=seconds * 1000, type=order_type,
            entry=entry, magic=magic, position_id=pos.ticket, reason=reason,
            volume=float(volume), price=float(price), commission=float(commission), swap=0.0,
            profit=float(pnl), fee=0.0, symbol=pos.symbol, comment=comment, external_id=""))
        initial = volume_initial if volume_initial is not None else volume
        state = c.ORDER_STATE_PARTIAL if initial > volume else c.ORDER_STATE_FILLED
        self._book.orders.append(TradeOrder(
            ticket=order, time_setup=seconds, time_setup_msc=seconds * 1000, time_done=seconds,
            time_done_msc=seconds * 1000, time_expiration=0, type=order_type,
            type_time=c.ORDER_TIME_GTC,
            type_filling=int(req["type_filling"]) if req else c.ORDER_FILLING_FOK, state=state,
            magic=magic, position_id=pos.ticket, position_by_id=0, reason=reason,
            volume_initial=float(initial), volume_current=float(initial - volume),
            price_open=float(req["price"]) if req else 0.0, sl=float(req["sl"]) if req else 0.0,
            tp=float(req["tp"]) if req else 0.0, price_current=float(price),
            price_stoplimit=0.0, symbol=pos.symbol, comment=comment, external_id=""))

    def _server_seconds(self, when: pd.Timestamp) -> int:
        return self._server_seconds_of(pd.Timestamp(when).value)

    @staticmethod
    def _bar_end(entry: Any, when: pd.Timestamp) -> pd.Timestamp:
        from trading.brokers.mt5sim import _finest

        delta = timeframes.get(_finest(entry)).delta
        return pd.Timestamp(when).floor(delta) + delta

    # --- SL/TP as the clock advances -------------------------------------------------------
    def _sync(self) -> None:
        """Close every position whose SL or TP a bar since its last check has touched."""
        for pos in list(self._book.positions.values()):
            if pos.sl is not None or pos.tp is not None:
                self._check_stops(pos)

    def _check_stops(self, pos: Position) -> None:
        from trading.brokers.mt5sim import _finest

        entry = self._symbols[pos.symbol]
        bars = entry.bars(_finest(entry))
        now = self.now()
        start = int(np.searchsorted(bars.time, pos.checked_from.value, side="left"))
        stop = int(np.searchsorted(bars.time, now.value, side="right"))
        nan = float("nan")
        sl = float(pos.sl) if pos.sl is not None else nan
        tp = float(pos.tp) if pos.tp is not None else nan
        point = float(entry.spec.point)
        for i in range(start, stop):
            bar_open, high, low, _close, complete = bars.bar(i, now.value, entry.spec.digits)
            spread = float(bars.spread[i]) * point
            reason, exit_bid, _both = first_touch(pos.side, bar_open, high, low, spread, sl, tp)
            opened = pd.Timestamp(int(bars.time[i]), tz="UTC")
            if reason != NO_EXIT:
                self._stop_out(pos, reason, exit_bid, spread, opened if complete else now)
                return
            if complete:
                pos.checked_from = opened + pd.Timedelta(int(bars.step), unit="ns")

    def _stop_out(self, pos: Position, reason: int, exit_bid: float, spread: float,
                  when: pd.Timestamp) -> None:
        spec = self._symbols[pos.symbol].spec
        price = spec.round_price(to_decimal(exit_bid + (spread if pos.side == -1 else 0.0)))
        is_sl = reason == STOP_LOSS
        level = pos.sl if is_sl else pos.tp
        deal_reason = c.DEAL_REASON_SL if is_sl else c.DEAL_REASON_TP
        comment = f"[{'sl' if is_sl else 'tp'} {level}]"
        order, deal = self._next(), self._next()
        self._close(pos, pos.volume, price, order, deal, deal_reason, comment, pos.magic, None,
                    when=max(pd.Timestamp(when), pos.time))
        self._book.executed.append(Executed(order, deal, "stop_loss" if is_sl
                                            else "take_profit", None))

    # --- positions, orders, history --------------------------------------------------------
    def positions_get(self, symbol: str | None = None, group: str | None = None,
                      ticket: int | None = None) -> tuple[TradePosition, ...] | None:
        if not self._enter("positions_get"):
            return None
        self._sync()
        out = []
        for pos in self._book.positions.values():
            if symbol is not None and pos.symbol != symbol:
                continue
            if symbol is None and group is not None and not group_match(pos.symbol, group):
                continue
            if symbol is None and ticket is not None and pos.ticket != int(ticket):
                continue
            out.append(self._position_tuple(pos))
        return self._ok(tuple(out))

    def positions_total(self) -> int | None:
        if not self._enter("positions_total"):
            return None
        self._sync()
        return self._ok(len(self._book.positions))

    def _position_tuple(self, pos: Position) -> TradePosition:
        spec = self._symbols[pos.symbol].spec
        opened, updated = self._server_seconds(pos.time), self._server_seconds(pos.time_update)
        current = self._close_price(pos) or pos.price_open
        return TradePosition(
            ticket=pos.ticket, time=opened, time_msc=opened * 1000, time_update=updated,
            time_update_msc=updated * 1000, type=pos.type, magic=pos.magic,
            identifier=pos.ticket, reason=pos.reason, volume=float(pos.volume),
            price_open=float(pos.price_open), sl=float(pos.sl or 0), tp=float(pos.tp or 0),
            price_current=float(current), swap=float(pos.swap),
            profit=float(profit(pos.side, pos.volume, pos.price_open, current, spec)),
            symbol=pos.symbol, comment=pos.comment, external_id="")

    def orders_get(self, symbol: str | None = None, group: str | None = None,
                   ticket: int | None = None) -> tuple[TradeOrder, ...] | None:
        """Active (pending) orders: market orders execute at once, so there are none."""
        if not self._enter("orders_get"):
            return None
        return self._ok(())

    def orders_total(self) -> int | None:
        if not self._enter("orders_total"):
            return None
        return self._ok(0)

    def history_deals_get(self, date_from: Any = None, date_to: Any = None, *,
                          group: str | None = None, ticket: int | None = None,
                          position: int | None = None) -> tuple[TradeDeal, ...] | None:
        if not self._enter("history_deals_get"):
            return None
        self._sync()
        return self._history(self._book.deals, date_from, date_to, group, ticket, position,
                             "time", "order")

    def history_deals_total(self, date_from: Any, date_to: Any) -> int | None:
        deals = self.history_deals_get(date_from, date_to)
        return None if deals is None else len(deals)

    def history_orders_get(self, date_from: Any = None, date_to: Any = None, *,
                           group: str | None = None, ticket: int | None = None,
                           position: int | None = None) -> tuple[TradeOrder, ...] | None:
        if not self._enter("history_orders_get"):
            return None
        self._sync()
        return self._history(self._book.orders, date_from, date_to, group, ticket, position,
                             "time_setup", "ticket")

    def history_orders_total(self, date_from: Any, date_to: Any) -> int | None:
        orders = self.history_orders_get(date_from, date_to)
        return None if orders is None else len(orders)

    def _history(self, rows: list, date_from: Any, date_to: Any, group: str | None,
                 ticket: int | None, position: int | None, time_field: str,
                 order_field: str) -> tuple | None:
        """MT5's three call forms: by ``ticket`` (the ORDER's ticket, for deals too), by
        ``position``, or by a server-time range (both ends inclusive, as ``HistorySelect``)
        with an optional ``group``."""
        from trading.brokers.mt5sim import _seconds

        if ticket is not None:
            return self._ok(tuple(r for r in rows if getattr(r, order_field) == int(ticket)))
        if position is not None:
            return self._ok(tuple(r for r in rows if r.position_id == int(position)))
        if date_from is None or date_to is None:
            return self._error((-2, "Terminal: Invalid params"))
        start, end = _seconds(date_from), _seconds(date_to)
        return self._ok(tuple(
            r for r in rows if start <= getattr(r, time_field) <= end
            and (group is None or group_match(r.symbol, group))))
