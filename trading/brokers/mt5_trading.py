"""The trading half of :class:`trading.brokers.mt5.MT5Broker` (pure: no Django).

One order, one identity: ``magic`` plus the client id at the start of ``comment``
(:func:`trading.brokers.base.client_id_for`). The path of every request:

1. checks before anything is sent, each refused as a REJECTED outcome with the code the
   server would have answered and a message saying why (nothing sent, ``attempts=0``): volume
   off the symbol's step or limits (10014), SL/TP on the wrong side of the price or inside
   ``trade_stops_level`` once normalised to ``digits`` (10016), a position that is not ours
   (another magic: positions opened by hand are never touched);
2. a FRESH tick, the request (plain int/float/str only: mt5linux), ``order_check``;
3. ``order_send`` and the retcode policy of :mod:`trading.brokers.retcodes`:
   DONE/PARTIAL -> FILLED/PARTIALLY_FILLED; REPRICE -> back to 2 after a backoff, at most
   ``max_attempts`` sends, each retry logged with its code; TERMINAL -> REJECTED with code and
   meaning, never resent; UNKNOWN (no answer, 10012, 10031, 10011) -> the client id is looked
   up in positions and deal history BEFORE anything else is sent: found -> FILLED, not found ->
   UNKNOWN (the caller's recovery decides; this adapter never resends blindly).

Exceptions: ``BrokerError``/``TemporaryBrokerError`` only when NOTHING was sent (the terminal
is unreachable before ``order_send``, or ``order_check`` got no answer): retrying is then safe.
``DataError`` for a malformed identity or SL/TP value (a caller's bug).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from nusatrade.errors import TemporaryBrokerError
from trading.brokers import mt5_constants as c
from trading.brokers import mt5_records as records
from trading.brokers import retcodes
from trading.brokers.base import (
    AccountInfo,
    BrokerDeal,
    BrokerOrderRecord,
    BrokerPosition,
    MarketOrder,
    OrderOutcome,
    OrderSide,
    OrderState,
    Tick,
)
from trading.brokers.retcodes import Policy
from trading.pnl import InstrumentSpec

logger = logging.getLogger("nusatrade.brokers.mt5")

# How far back an in-adapter look-up searches the deal history (clock skew, slow servers).
LOOKUP_WINDOW = timedelta(days=1)
# History ranges are widened by this much at each end (server time zone doubts), then filtered.
_RANGE_PAD = timedelta(days=1)
_CHECK_OK = frozenset({0, retcodes.DONE})


@dataclass
class _Request:
    """One logical request: ``build`` makes the MT5 request dict from a fresh tick (or raises
    :class:`_Refusal`); ``lookup`` finds out whether it executed when the answer was lost."""

    action: str
    symbol: str
    client_id: str
    magic: int
    build: Callable[[Tick], dict[str, Any]]
    lookup: Callable[[], OrderOutcome | None]
    position_ticket: int | None = None
    done_codes: frozenset[int] = frozenset()
    retries: list[str] = field(default_factory=list)


class _Refusal(Exception):
    def __init__(self, retcode: int | None, message: str) -> None:
        super().__init__(message)
        self.retcode = retcode
        self.message = message


def _rejected(request: _Request, retcode: int | None, message: str,
              attempts: int) -> OrderOutcome:
    return OrderOutcome(state=OrderState.REJECTED, retcode=retcode, message=message,
                        client_id=request.client_id, attempts=attempts,
                        position_ticket=request.position_ticket,
                        retries=tuple(request.retries))


class MT5Trading:
    """Mixin: the trading methods of MT5Broker (host provides the connection and market
    data: ``_module``, ``connect``, ``_fail``, ``symbol_info``, ``_clock``,
    ``_server_timezone``, ``_max_attempts``, ``_backoff_s``, ``_sleep``)."""

    _module: Any
    _connected: bool
    _server_timezone: str
    _max_attempts: int
    _backoff_s: float
    _sleep: Callable[[float], None]

    # --- reads -----------------------------------------------------------------------------
    def account_info(self) -> AccountInfo:
        self.connect()
        info = self._module.account_info()
        if info is None:
            raise self._fail("account_info")
        return records.account_from(info)

    def tick(self, symbol: str) -> Tick:
        self.connect()
        tick = self._module.symbol_info_tick(symbol)
        if tick is None:
            raise self._fail(f"symbol_info_tick({symbol})")
        return records.tick_from(symbol, tick, self._server_timezone)

    def positions(self, symbol: str | None = None) -> list[BrokerPosition]:
        self.connect()
        found = (self._module.positions_get(symbol=symbol) if symbol is not None
                 else self._module.positions_get())
        if found is None:
            raise self._fail("positions_get")
        return [records.position_from(p, self._server_timezone) for p in found]

    def _position(self, ticket: int) -> BrokerPosition | None:
        self.connect()
        found = self._module.positions_get(ticket=int(ticket))
        if found is None:
            raise self._fail(f"positions_get(ticket={ticket})")
        mine = [p for p in found if int(p.ticket) == int(ticket)]
        return records.position_from(mine[0], self._server_timezone) if mine else None

    def _history(self, function: str, start: datetime, end: datetime) -> list[Any]:
        """Raw history rows with ``start <= time < end`` (UTC), via a padded server range
        passed as plain int seconds (mt5linux cannot carry a datetime)."""
        self.connect()
        tz = self._server_timezone
        rows = getattr(self._module, function)(
            records.utc_to_server_seconds(start - _RANGE_PAD, tz),
            records.utc_to_server_seconds(end + _RANGE_PAD, tz))
        if rows is None:
            code, _description = self._module.last_error()
            if code == 1:      # "Success" with no rows: some builds answer None, not ()
                return []
            raise self._fail(function)
        return list(rows)

    def deals(self, start: datetime, end: datetime) -> list[BrokerDeal]:
        rows = self._history("history_deals_get", start, end)
        deals = [records.deal_from(d, self._server_timezone) for d in rows
                 if records.is_trade_deal(d)]
        return sorted((d for d in deals if start <= d.time < end),
                      key=lambda d: (d.time, d.ticket))

    def history_orders(self, start: datetime, end: datetime) -> list[BrokerOrderRecord]:
        rows = self._history("history_orders_get", start, end)
        orders = [records.order_record_from(o, self._server_timezone) for o in rows]
        return sorted((o for o in orders if start <= o.time < end),
                      key=lambda o: (o.time, o.ticket))

    # --- orders ----------------------------------------------------------------------------
    def place_market_order(self, order: MarketOrder) -> OrderOutcome:
        if order.position_ticket is not None:
            return self.close_position(order.position_ticket, client_id=order.client_id,
                                       magic=order.magic, volume=order.volume)
        records.validate_identity(order.client_id, order.magic)
        spec = self.symbol_info(order.symbol)
        sl = records.normalise_level(spec, order.sl)
        tp = records.normalise_level(spec, order.tp)
        since = self._clock() - LOOKUP_WINDOW
        comment = records.comment_for(order.client_id, order.comment)
        filling = c.filling_for(spec.filling_modes)
        order_type = c.ORDER_TYPE_BUY if order.side is OrderSide.BUY else c.ORDER_TYPE_SELL

        def build(tick: Tick) -> dict[str, Any]:
            problem = records.stops_problem(spec, order.side, tick, sl, tp)
            if problem:
                raise _Refusal(retcodes.INVALID_STOPS, f"refused before sending: {problem}")
            return {
                "action": c.TRADE_ACTION_DEAL, "symbol": str(order.symbol),
                "volume": float(order.volume), "type": order_type,
                "price": float(spec.round_price(tick.price_for(order.side))),
                "sl": float(sl) if sl is not None else 0.0,
                "tp": float(tp) if tp is not None else 0.0,
                "deviation": int(order.deviation), "magic": int(order.magic),
                "comment": comment, "type_time": c.ORDER_TIME_GTC, "type_filling": filling,
            }

        request = _Request("open", order.symbol, order.client_id, order.magic, build,
                           lambda: self.find_order(order.client_id, order.magic, since))
        problem = records.volume_problem(spec, order.volume)
        if problem:
            return _rejected(request, retcodes.INVALID_VOLUME,
                             f"refused before sending: {problem}", 0)
        return self._send(request, spec)

    def close_position(self, ticket: int, *, client_id: str, magic: int,
                       volume: Decimal | None = None) -> OrderOutcome:
        records.validate_identity(client_id, magic)
        self.connect()
        since = self._clock() - LOOKUP_WINDOW

        def lookup() -> OrderOutcome | None:
            return self.find_order(client_id, magic, since)

        position = self._position(ticket)
        if position is None:
            # Closed already: by our own earlier attempt (its deal carries our client id), or
            # by SL/TP, stop-out or a person.
            found = lookup()
            if found is not None:
                return found
            return OrderOutcome(
                state=OrderState.REJECTED, retcode=retcodes.POSITION_CLOSED,
                message=f"position {ticket} is not open (closed by SL/TP, stop-out or by "
                        "hand): nothing sent", client_id=client_id, position_ticket=int(ticket),
                attempts=0)
        spec = self.symbol_info(position.symbol)
        side = position.side.opposite
        amount = position.volume if volume is None else volume
        comment = records.comment_for(client_id)
        filling = c.filling_for(spec.filling_modes)

        def build(tick: Tick) -> dict[str, Any]:
            return {
                "action": c.TRADE_ACTION_DEAL, "symbol": position.symbol,
                "volume": float(amount),
                "type": c.ORDER_TYPE_BUY if side is OrderSide.BUY else c.ORDER_TYPE_SELL,
                "position": int(ticket), "price": float(spec.round_price(tick.price_for(side))),
                "deviation": 20, "magic": int(magic), "comment": comment,
                "type_time": c.ORDER_TIME_GTC, "type_filling": filling,
            }

        request = _Request("close", position.symbol, client_id, magic, build, lookup,
                           position_ticket=int(ticket))
        refusal = self._close_refusal(position, magic, spec, amount)
        if refusal is not None:
            return _rejected(request, refusal[0], f"refused before sending: {refusal[1]}", 0)
        return self._send(request, spec)

    def modify_position(self, ticket: int, sl: Decimal | None, tp: Decimal | None,
                        *, client_id: str = "", magic: int = 0) -> OrderOutcome:
        records.validate_identity(client_id, magic)
        self.connect()
        position = self._position(ticket)
        if position is None:
            return OrderOutcome(
                state=OrderState.REJECTED, retcode=retcodes.POSITION_CLOSED,
                message=f"position {ticket} is not open: nothing sent", client_id=client_id,
                position_ticket=int(ticket), attempts=0)
        spec = self.symbol_info(position.symbol)
        new_sl, new_tp = records.normalise_level(spec, sl), records.normalise_level(spec, tp)

        def build(tick: Tick) -> dict[str, Any]:
            problem = records.stops_problem(spec, position.side, tick, new_sl, new_tp)
            if problem:
                raise _Refusal(retcodes.INVALID_STOPS, f"refused before sending: {problem}")
            return {
                "action": c.TRADE_ACTION_SLTP, "symbol": position.symbol,
                "position": int(ticket), "sl": float(new_sl) if new_sl is not None else 0.0,
                "tp": float(new_tp) if new_tp is not None else 0.0, "magic": int(magic),
                "comment": records.comment_for(client_id),
            }

        def lookup() -> OrderOutcome | None:
            now = self._position(ticket)
            if now is not None and (now.sl, now.tp) == (new_sl, new_tp):
                return self._levels_set(client_id, now, "found set after a lost answer")
            return None

        request = _Request("modify", position.symbol, client_id, magic, build, lookup,
                           position_ticket=int(ticket),
                           done_codes=frozenset({retcodes.NO_CHANGES}))
        problem = self._not_ours(position, magic)
        if problem:
            return _rejected(request, None, f"refused before sending: {problem}", 0)
        return self._send(request, spec)

    def _close_refusal(self, position: BrokerPosition, magic: int, spec: InstrumentSpec,
                       amount: Decimal) -> tuple[int | None, str] | None:
        """(retcode, why) when closing ``amount`` of ``position`` must not be sent."""
        not_ours = self._not_ours(position, magic)
        if not_ours:
            return None, not_ours
        problem = records.volume_problem(spec, amount)
        if problem:
            return retcodes.INVALID_VOLUME, problem
        if amount > position.volume:
            return (retcodes.INVALID_CLOSE_VOLUME,
                    f"close volume {amount} exceeds the position's {position.volume} lots")
        return None

    @staticmethod
    def _not_ours(position: BrokerPosition, magic: int) -> str | None:
        if position.magic != magic:
            return (f"position {position.ticket} carries magic {position.magic}, not ours "
                    f"({magic}): NusaTrade never touches it")
        return None

    @staticmethod
    def _levels_set(client_id: str, position: BrokerPosition, message: str) -> OrderOutcome:
        return OrderOutcome(state=OrderState.FILLED, retcode=retcodes.DONE, message=message,
                            client_id=client_id, position_ticket=position.ticket,
                            volume=position.volume, attempts=1)

    # --- the send loop ---------------------------------------------------------------------
    def _send(self, request: _Request, spec: InstrumentSpec) -> OrderOutcome:
        sends = 0
        last: int | None = None
        for attempt in range(1, self._max_attempts + 1):
            tick = self.tick(request.symbol)
            try:
                payload = records.check_plain(request.build(tick))
            except _Refusal as refusal:
                return _rejected(request, refusal.retcode, refusal.message, sends)
            checked = self._check(request, payload, sends)
            if isinstance(checked, OrderOutcome):
                return checked
            if checked is not None:     # order_check asked to re-price: nothing sent
                last = checked
                self._backoff(request, attempt, checked, "order_check")
                continue
            sends += 1
            try:
                result = self._module.order_send(payload)
            except Exception as exc:  # a bridge socket error: sent or not?
                return self._resolve(request, None, None, sends, raised=exc)
            code = None if result is None else int(result.retcode)
            policy = (Policy.DONE if code in request.done_codes
                      else retcodes.policy(code))
            if policy is Policy.DONE:
                return self._done(request, result, spec, sends)
            if policy is Policy.TERMINAL:
                return _rejected(request, code, self._describe(code, result), sends)
            if policy is Policy.UNKNOWN:
                return self._resolve(request, code, result, sends)
            last = code
            self._backoff(request, attempt, code, "order_send")
        return _rejected(request, last, f"{self._describe(last, None)}: gave up after "
                                        f"{self._max_attempts} attempts at a fresh price", sends)

    def _check(self, request: _Request, payload: dict[str, Any],
               sends: int) -> OrderOutcome | int | None:
        """None: send it; an int: a re-pricing code; an outcome: refused (nothing sent)."""
        checked = self._module.order_check(payload)
        if checked is None:
            raise self._fail(f"order_check({request.symbol})")
        code = int(checked.retcode)
        if code in _CHECK_OK or code in request.done_codes:
            return None
        policy = retcodes.policy(code)
        if policy is Policy.REPRICE:
            return code
        if policy is Policy.TERMINAL:
            return _rejected(request, code, f"order_check: {self._describe(code, checked)}",
                             sends)
        raise TemporaryBrokerError(f"MT5 order_check({request.symbol}): "
                                   f"{self._describe(code, checked)}", retcode=code)

    def _backoff(self, request: _Request, attempt: int, code: int | None, where: str) -> None:
        line = f"attempt {attempt}: {where} retcode {code} ({retcodes.meaning(code)})"
        request.retries.append(line)
        if attempt >= self._max_attempts:
            logger.warning("MT5 %s %s %s: %s; no attempts left", request.action,
                           request.symbol, request.client_id, line)
            return
        delay = self._backoff_s * 2 ** (attempt - 1)
        logger.warning("MT5 %s %s %s: %s; re-pricing from a fresh tick in %.2f s",
                       request.action, request.symbol, request.client_id, line, delay)
        self._sleep(delay)

    @staticmethod
    def _describe(code: int | None, result: Any) -> str:
        text = f"retcode {code}: {retcodes.meaning(code)}"
        comment = str(getattr(result, "comment", "") or "") if result is not None else ""
        return f"{text} ({comment})" if comment and comment != retcodes.meaning(code) else text

    def _done(self, request: _Request, result: Any, spec: InstrumentSpec,
              sends: int) -> OrderOutcome:
        code = int(result.retcode)
        if request.action == "modify":
            return OrderOutcome(state=OrderState.FILLED, retcode=code,
                                message=self._describe(code, result),
                                client_id=request.client_id,
                                position_ticket=request.position_ticket, attempts=sends,
                                retries=tuple(request.retries))
        if not int(result.deal):
            # Accepted but no deal yet (10008 placed): whether it filled is for the look-up.
            return self._resolve(request, code, result, sends)
        deal = self._deal_of(int(result.order), int(result.deal))
        state = OrderState.PARTIALLY_FILLED if code == retcodes.DONE_PARTIAL else OrderState.FILLED
        return OrderOutcome(
            state=state, retcode=code, message=self._describe(code, result),
            client_id=request.client_id, order_ticket=int(result.order),
            deal_ticket=int(result.deal),
            position_ticket=(deal.position_ticket if deal is not None
                             else request.position_ticket or int(result.order)),
            volume=records.decimal_of(result.volume),
            price=spec.round_price(records.decimal_of(result.price)),
            time=deal.time if deal is not None else self._clock(), attempts=sends,
            retries=tuple(request.retries))

    def _deal_of(self, order_ticket: int, deal_ticket: int) -> BrokerDeal | None:
        """The deal an executed order made (its position ticket and server time); None if
        the history cannot say yet (then the order ticket stands for the position, as MT5's
        position identifier is its opening order's ticket)."""
        rows = self._module.history_deals_get(ticket=order_ticket)
        for row in rows or ():
            if int(row.ticket) == deal_ticket:
                return records.deal_from(row, self._server_timezone)
        return None

    def _resolve(self, request: _Request, code: int | None, result: Any, sends: int,
                 raised: Exception | None = None) -> OrderOutcome:
        """The answer was lost: look the client id up before anything is sent again."""
        if raised is not None:
            # The call itself failed (mt5linux: the link broke mid-call): the request may have
            # reached the terminal. Reconnect for the look-up.
            self._connected = False
            why = f"order_send raised {type(raised).__name__}: {raised}"
        elif result is None:
            error_code, description = self._module.last_error()
            from trading.brokers.mt5 import IPC_ERRORS

            if error_code in IPC_ERRORS:
                self._connected = False
            why = f"no answer from order_send ({description}, {error_code})"
        else:
            why = self._describe(code, result)
        logger.warning("MT5 %s %s %s: %s; looking the client id up before anything else is "
                       "sent", request.action, request.symbol, request.client_id, why)
        try:
            found = request.lookup()
        except Exception as exc:  # whatever broke: still unknown
            return self._unknown(request, code, f"{why}; look-up failed: {exc}", sends)
        if found is None:
            return self._unknown(request, code, f"{why}; not found at the broker after the "
                                                "look-up", sends)
        logger.info("MT5 %s %s %s: found after the lost answer (%s)", request.action,
                    request.symbol, request.client_id, found.message)
        return OrderOutcome(
            state=found.state, retcode=code, message=f"{why}; {found.message}",
            client_id=request.client_id, order_ticket=found.order_ticket,
            deal_ticket=found.deal_ticket, position_ticket=found.position_ticket,
            volume=found.volume, price=found.price, time=found.time, attempts=sends,
            retries=tuple(request.retries))

    @staticmethod
    def _unknown(request: _Request, code: int | None, message: str,
                 sends: int) -> OrderOutcome:
        return OrderOutcome(state=OrderState.UNKNOWN, retcode=code, message=message,
                            client_id=request.client_id,
                            position_ticket=request.position_ticket, attempts=sends,
                            retries=tuple(request.retries))
