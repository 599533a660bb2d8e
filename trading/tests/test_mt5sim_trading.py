"""The simulator's trading functions answer like the MetaTrader5 module: names, constants,
request and result fields, return codes, and a consistent account."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from trading.brokers import mt5sim_trade
from trading.brokers.mt5sim import XAUUSD_SPEC, MT5Simulator
from trading.pnl import margin_required
from trading.tests.mt5_helpers import LOGIN, PASSWORD, flat_bars


def sim_with(closes=None, *, spec=XAUUSD_SPEC, when="2024-03-05 10:30", spread=0,
             wiggle="0", **options) -> MT5Simulator:
    sim = MT5Simulator(**options)
    sim.add_symbol(spec.symbol, flat_bars(closes or ["2350.00"] * 24, spread=spread,
                                          wiggle=wiggle), spec=spec)
    sim.set_time(when)
    assert sim.initialize(login=LOGIN, password=PASSWORD, server="Sim")
    return sim


def buy(sim: MT5Simulator, volume: float = 0.1, **fields) -> dict:
    request = {"action": sim.TRADE_ACTION_DEAL, "symbol": "XAUUSD", "volume": volume,
               "type": sim.ORDER_TYPE_BUY, "price": 0.0, "deviation": 20, "magic": 7,
               "comment": "NTtest", "type_time": sim.ORDER_TIME_GTC,
               "type_filling": sim.ORDER_FILLING_FOK}
    request.update(fields)
    return request


def test_trading_constants_have_metatrader5s_values():
    s = MT5Simulator
    assert (s.ORDER_TYPE_BUY, s.ORDER_TYPE_SELL, s.ORDER_TYPE_CLOSE_BY) == (0, 1, 8)
    assert (s.TRADE_ACTION_DEAL, s.TRADE_ACTION_PENDING, s.TRADE_ACTION_SLTP,
            s.TRADE_ACTION_MODIFY, s.TRADE_ACTION_REMOVE, s.TRADE_ACTION_CLOSE_BY) == (
        1, 5, 6, 7, 8, 10)
    assert (s.ORDER_FILLING_FOK, s.ORDER_FILLING_IOC, s.ORDER_FILLING_RETURN) == (0, 1, 2)
    assert s.ORDER_TIME_GTC == 0 and (s.POSITION_TYPE_BUY, s.POSITION_TYPE_SELL) == (0, 1)
    assert (s.DEAL_ENTRY_IN, s.DEAL_ENTRY_OUT, s.DEAL_ENTRY_INOUT, s.DEAL_ENTRY_OUT_BY) == (
        0, 1, 2, 3)
    assert (s.DEAL_REASON_CLIENT, s.DEAL_REASON_EXPERT, s.DEAL_REASON_SL, s.DEAL_REASON_TP,
            s.DEAL_REASON_SO) == (0, 3, 4, 5, 6)
    assert (s.TRADE_RETCODE_REQUOTE, s.TRADE_RETCODE_DONE, s.TRADE_RETCODE_DONE_PARTIAL,
            s.TRADE_RETCODE_TIMEOUT, s.TRADE_RETCODE_PRICE_OFF, s.TRADE_RETCODE_INVALID_FILL,
            s.TRADE_RETCODE_CONNECTION) == (10004, 10009, 10010, 10012, 10021, 10030, 10031)


def test_result_records_have_the_real_modules_fields():
    assert mt5sim_trade.OrderSendResult._fields == (
        "retcode", "deal", "order", "volume", "price", "bid", "ask", "comment", "request_id",
        "retcode_external", "request")
    assert mt5sim_trade.TradeRequest._fields[:6] == ("action", "magic", "order", "symbol",
                                                     "volume", "price")
    assert {"ticket", "identifier", "magic", "comment", "price_open", "sl", "tp", "profit",
            "swap", "reason"} <= set(mt5sim_trade.TradePosition._fields)
    assert {"ticket", "order", "position_id", "entry", "reason", "commission", "fee",
            "profit"} <= set(mt5sim_trade.TradeDeal._fields)
    assert {"margin_free", "margin_level", "leverage", "currency", "equity"} <= set(
        mt5sim_trade.AccountInfo._fields)


def test_order_check_reports_done_with_the_margin_the_order_needs():
    sim = sim_with()
    check = sim.order_check(buy(sim))
    assert (check.retcode, check.comment) == (0, "Done")
    needed = margin_required(Decimal("0.1"), Decimal("2350.00"), XAUUSD_SPEC, 100)
    assert Decimal(repr(check.margin)) == needed == Decimal("235.00")
    assert check.request.volume == 0.1 and sim.executed_orders == 0


def test_order_send_opens_a_position_with_magic_and_a_comment_cut_at_31():
    sim = sim_with()
    result = sim.order_send(buy(sim, comment="N" * 40))
    assert result.retcode == 10009 and result.deal and result.order
    assert (result.volume, result.price) == (0.1, 2350.0)
    [position] = sim.positions_get()
    assert position.ticket == position.identifier == result.order
    assert position.magic == 7 and position.comment == "N" * 31
    assert position.reason == sim.POSITION_REASON_EXPERT and sim.positions_total() == 1
    assert sim.executed_orders == 1


@pytest.mark.parametrize("value", [Decimal("0.1"), np.float64(0.1), None, True])
def test_a_request_with_non_plain_values_fails_like_a_remote_call(value):
    sim = sim_with()
    assert sim.order_send(buy(sim, volume=value)) is None
    assert sim.last_error()[0] == sim.RES_E_INVALID_PARAMS
    assert sim.positions_get() == () and sim.executed_orders == 0


@pytest.mark.parametrize("fields, code", [
    ({"volume": 0.015}, 10014),                                  # off the 0.01 step
    ({"volume": 0.0}, 10014),
    ({"volume": 1000.0}, 10014),                                 # above volume_max
    ({"type_filling": 1}, 10030),                                # IOC not allowed here
    ({"sl": 2349.995}, 10016),                                   # off the price grid
    ({"sl": 2351.0}, 10016),                                     # wrong side of the bid
    ({"tp": 2349.0}, 10016),
    ({"price": 2352.0}, 10004),                                  # stale by 200 points > 20
    ({"volume": 50.0}, 10019),                                   # 1.17M of margin
    ({"type": 2}, 10035),                                        # pending types unsupported
])
def test_the_server_refuses_what_a_real_server_refuses(fields, code):
    sim = sim_with()
    assert sim.order_check(buy(sim, **fields)).retcode == code
    result = sim.order_send(buy(sim, **fields))
    assert result.retcode == code and result.deal == 0
    assert sim.positions_get() == () and sim.executed_orders == 0


def test_stops_must_clear_the_stops_level():
    sim = sim_with(spec=replace(XAUUSD_SPEC, stops_level=50))
    assert sim.order_send(buy(sim, sl=2349.51)).retcode == 10016
    assert sim.order_send(buy(sim, sl=2349.50)).retcode == 10009


def test_the_market_is_closed_at_the_weekend():
    sim = sim_with(["2350.00"] * 24, when="2024-03-06 12:00")       # after the last bar
    assert sim.order_send(buy(sim)).retcode == 10018


def test_closing_checks_the_position_and_the_volume():
    sim = sim_with()
    ticket = sim.order_send(buy(sim, volume=0.2)).order
    close = buy(sim, type=sim.ORDER_TYPE_SELL, position=ticket, volume=0.3)
    assert sim.order_send(close).retcode == 10038
    assert sim.order_send(dict(close, position=999)).retcode == 10013
    assert sim.order_send(dict(close, volume=0.1)).retcode == 10009
    assert sim.positions_get(ticket=ticket)[0].volume == 0.1
    assert sim.order_send(dict(close, volume=0.1)).retcode == 10009
    assert sim.positions_get(ticket=ticket) == ()
    assert sim.order_send(dict(close, volume=0.1)).retcode == 10036        # already closed
    deals = sim.history_deals_get(position=ticket)
    assert [d.entry for d in deals] == [0, 1, 1] and sim.executed_orders == 3


def test_sltp_sets_levels_and_reports_no_changes():
    sim = sim_with()
    ticket = sim.order_send(buy(sim)).order
    sltp = {"action": sim.TRADE_ACTION_SLTP, "symbol": "XAUUSD", "position": ticket,
            "sl": 2340.0, "tp": 2360.0, "magic": 7}
    assert sim.order_send(sltp).retcode == 10009
    assert sim.order_send(sltp).retcode == 10025
    position = sim.positions_get(ticket=ticket)[0]
    assert (position.sl, position.tp) == (2340.0, 2360.0)


def test_a_take_profit_closes_at_its_level_with_reason_tp():
    sim = sim_with(["2350.00", "2350.00", "2353.00", "2358.00", "2358.00"])
    ticket = sim.order_send(buy(sim, tp=2355.0)).order
    sim.set_time("2024-03-05 14:30")
    assert sim.positions_get() == ()
    [out] = [d for d in sim.history_deals_get(position=ticket) if d.entry == 1]
    assert (out.reason, out.price, out.profit, out.magic) == (5, 2355.0, 50.0, 7)
    assert out.comment == "[tp 2355.0]"
    assert sim.account_info().balance == 10050.0 and sim.executed_orders == 1


def test_a_short_stops_when_the_ask_reaches_its_stop():
    # Spread 50 points = 0.50. The 12:00 bar's BID tops at 2351.60, below the stop 2352.00,
    # but its ASK reaches 2352.10: a short is stopped there, at its stop price.
    sim = sim_with(["2350.00", "2350.00", "2351.60", "2351.60"], spread=50)
    ticket = sim.order_send(buy(sim, type=sim.ORDER_TYPE_SELL, sl=2352.0)).order
    sim.set_time("2024-03-05 11:59")
    assert sim.positions_get(ticket=ticket)
    sim.set_time("2024-03-05 13:30")
    assert sim.positions_get(ticket=ticket) == ()
    [out] = [d for d in sim.history_deals_get(position=ticket) if d.entry == 1]
    assert (out.reason, out.price, out.profit) == (sim.DEAL_REASON_SL, 2352.0, -20.0)


def test_a_gap_through_the_stop_fills_at_the_open():
    bars = flat_bars(["2350.00", "2350.00", "2350.00"])
    bars.loc[bars.index[2], ["open", "high", "low", "close"]] = [2340.0, 2341.0, 2339.0, 2340.0]
    sim = MT5Simulator()
    sim.add_symbol("XAUUSD", bars, spec=XAUUSD_SPEC)
    sim.set_time("2024-03-05 10:30")
    sim.initialize()
    ticket = sim.order_send(buy(sim, sl=2345.0)).order
    sim.set_time("2024-03-05 12:59")
    [out] = [d for d in sim.history_deals_get(position=ticket) if d.entry == 1]
    assert (out.reason, out.price, out.profit) == (sim.DEAL_REASON_SL, 2340.0, -100.0)


def test_positions_and_history_filter_like_the_terminal():
    sim = sim_with()
    sim.add_symbol("EURUSD", flat_bars(["1.08500"] * 24),
                   spec=replace(XAUUSD_SPEC, symbol="EURUSD", digits=5,
                                point=Decimal("0.00001"), contract_size=Decimal("100000"),
                                tick_size=Decimal("0.00001"), tick_value=Decimal("1")))
    gold = sim.order_send(buy(sim)).order
    euro = sim.order_send(buy(sim, symbol="EURUSD")).order
    assert [p.ticket for p in sim.positions_get(symbol="EURUSD")] == [euro]
    assert [p.ticket for p in sim.positions_get(ticket=gold)] == [gold]
    assert [p.ticket for p in sim.positions_get(group="*USD*,!EUR*")] == [gold]
    stamp = int(sim.positions_get(ticket=gold)[0].time)
    assert len(sim.history_deals_get(stamp, stamp)) == 2               # both ends inclusive
    assert sim.history_deals_get(stamp + 1, stamp + 60) == ()
    assert [d.position_id for d in sim.history_deals_get(ticket=euro)] == [euro]
    [order] = sim.history_orders_get(ticket=gold)
    assert order.state == sim.ORDER_STATE_FILLED and order.magic == 7
    assert sim.orders_get() == () and sim.orders_total() == 0


def test_account_money_adds_up():
    sim = sim_with(["2350.00", "2350.00", "2351.00"], when="2024-03-05 10:30")
    sim.order_send(buy(sim))
    sim.set_time("2024-03-05 12:30")
    account = sim.account_info()
    assert account.profit == 5.0              # halfway through the 12:00 bar: bid 2350.50
    assert account.equity == account.balance + account.profit
    assert account.margin == 235.0 and account.margin_free == account.equity - account.margin
    assert account.margin_level == pytest.approx(account.equity / account.margin * 100, 1e-4)
    assert account.login == LOGIN and account.currency == "USD" and account.leverage == 100


def test_a_hand_opened_position_has_reason_client_and_is_not_counted_as_ours():
    sim = sim_with()
    ticket = sim.open_by_hand("XAUUSD", "SELL", "0.30", magic=0, comment="manual hedge")
    [position] = sim.positions_get()
    assert (position.ticket, position.magic, position.reason) == (ticket, 0, 0)
    assert sim.history_deals_get(ticket=ticket)[0].reason == sim.DEAL_REASON_CLIENT
    assert sim.executed_orders == 0 and [e.source for e in sim.executed] == ["hand"]


def test_a_disconnect_drops_the_link_until_initialize():
    sim = sim_with()
    sim.queue_fault("disconnect")
    assert sim.order_send(buy(sim)) is None
    assert sim.last_error() == (sim.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
    assert sim.positions_get() is None
    assert sim.initialize() and sim.positions_get() == () and sim.executed_orders == 0


def test_a_timeout_executes_the_order_but_loses_the_answer():
    sim = sim_with()
    sim.queue_fault("timeout")
    sim.queue_fault("timeout", answer=10012)
    assert sim.order_send(buy(sim)) is None
    assert sim.last_error()[0] == sim.RES_E_INTERNAL_FAIL_TIMEOUT
    assert sim.order_send(buy(sim)).retcode == 10012
    assert sim.positions_total() == 2 and sim.executed_orders == 2


def test_faults_are_consumed_one_per_call_in_order():
    sim = sim_with()
    sim.queue_fault("requote", times=2)
    sim.queue_fault("reject", answer=10019)
    codes = [sim.order_send(buy(sim)).retcode for _ in range(4)]
    assert codes == [10004, 10004, 10019, 10009] and sim.executed_orders == 1
    with pytest.raises(ValueError):
        sim.queue_fault("meteor")


def test_answers_hold_plain_python_values_like_the_real_module():
    sim = sim_with(["2350.00", "2350.00", "2351.00"])
    result = sim.order_send(buy(sim, sl=2340.0))
    records = [sim.symbol_info_tick("XAUUSD"), sim.account_info(), *sim.positions_get(),
               *sim.history_deals_get(0, 2**31), *sim.history_orders_get(0, 2**31), result]
    for record in records:
        for name, value in record._asdict().items():
            if name != "request":
                assert type(value) in (int, float, str, bool), (type(record).__name__, name)


def test_commission_is_charged_on_each_fill_in_decimal_cents():
    sim = sim_with(["2350.00", "2350.00", "2352.50", "2352.50"])
    sim.set_commission("3.50")                           # per lot per fill
    ticket = sim.order_send(buy(sim, volume=0.1)).order
    sim.set_time("2024-03-05 13:30")
    sim.order_send(buy(sim, type=sim.ORDER_TYPE_SELL, position=ticket, volume=0.1))
    deals = sim.history_deals_get(position=ticket)
    assert [d.commission for d in deals] == [-0.35, -0.35]
    assert [d.profit for d in deals] == [0.0, 25.0]
    assert sim.account_info().balance == 10024.30
