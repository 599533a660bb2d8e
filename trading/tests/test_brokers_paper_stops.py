"""PaperBroker SL/TP: applied on each closed bar with trading.fills.first_touch, and equal to
what the backtester's engine does on the same bars with the same costs (exit time, reason,
price, commission, swap, net P/L).

Entry at the 10:00 bar's open (2350.00 bid) of Tue 2024-03-05, 0.10 lot, spread 3 pips (0.30),
slippage 1 pip (0.10), commission 7/lot, swap -5.50 long / +2.10 short per lot per night.
BUY fills at 2350.40: SL 2348.40 (2.00 below), TP 2353.40 (3.00 above), on the bid.
SELL fills at 2349.90: SL 2351.90, TP 2346.90, on the ask (bid + 0.30).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from backtests.engine import BacktestConfig, run_backtest
from trading import pnl
from trading.brokers.base import DealReason, OrderSide
from trading.tests.paper_scenarios import XAUUSD, Scenario, bars

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
ENTRY_CLOCK = "2024-03-05 10:15"
SL_DISTANCE, TP_DISTANCE = D("2.00"), D("3.00")
LATER = "2024-03-07 11:00"     # two UTC midnights after the entry: two nights of swap

# side, event bar (open, high, low, close), reason, bid-side exit, fill price
CASES = {
    # long: the low reaches the SL 2348.40 -> bid 2348.40, sold at 2348.30
    "buy_sl": (BUY, (2350.00, 2350.50, 2348.00, 2349.00), "stop_loss", "2348.30"),
    # long: the high reaches the TP 2353.40 -> sold at 2353.30 (slippage on a TP too)
    "buy_tp": (BUY, (2350.00, 2353.60, 2349.50, 2353.00), "take_profit", "2353.30"),
    # long: the bar touches both: the SL counts first
    "buy_both": (BUY, (2350.00, 2354.00, 2348.00, 2351.00), "stop_loss", "2348.30"),
    # long: gap up through the TP: filled at the open 2354.00 (better than the TP)
    "buy_gap_tp": (BUY, (2354.00, 2355.00, 2353.80, 2354.50), "take_profit", "2353.90"),
    # long: gap down through the SL: filled at the open 2347.00 (worse than the SL)
    "buy_gap_sl": (BUY, (2347.00, 2347.50, 2346.00, 2347.20), "stop_loss", "2346.90"),
    # short: ask high 2352.00 reaches the SL 2351.90 -> bought at 2351.90 + 0.10
    "sell_sl": (SELL, (2350.00, 2351.70, 2349.50, 2351.00), "stop_loss", "2352.00"),
    # short: ask low 2346.80 reaches the TP 2346.90 -> bought at 2346.90 + 0.10
    "sell_tp": (SELL, (2350.00, 2350.20, 2346.50, 2347.00), "take_profit", "2347.00"),
    # short: both touched: SL first
    "sell_both": (SELL, (2350.00, 2352.00, 2346.00, 2350.00), "stop_loss", "2352.00"),
    # short: gap down, ask open 2346.30 <= TP: filled at the ask open + slippage
    "sell_gap_tp": (SELL, (2346.00, 2346.50, 2345.50, 2346.20), "take_profit", "2346.40"),
    # short: gap up, ask open 2352.80 >= SL: filled at the ask open + slippage
    "sell_gap_sl": (SELL, (2352.50, 2353.00, 2352.00, 2352.80), "stop_loss", "2352.90"),
}


def frame_with(event_time: str, ohlc: tuple[float, ...]) -> pd.DataFrame:
    frame = bars("2024-03-04", "2024-03-09", 2350.0, {event_time: ohlc})
    after = frame.index > pd.Timestamp(event_time, tz="UTC")
    frame.loc[after, ["open", "high", "low", "close"]] = ohlc[3]
    return frame


def levels(side: OrderSide, fill: Decimal) -> tuple[Decimal, Decimal]:
    sign = side.sign
    return fill - sign * SL_DISTANCE, fill + sign * TP_DISTANCE


def run_paper(frame: pd.DataFrame, side: OrderSide, until: str):
    s = Scenario({"XAUUSD": frame}, ENTRY_CLOCK, commission_per_lot=D("7"))
    fill = s.broker.tick("XAUUSD").price_for(side) + side.sign * D("0.10")
    sl, tp = levels(side, fill)
    opened = s.place("XAUUSD", side, "0.10", sl=str(sl), tp=str(tp))
    assert opened.price == fill
    s.clock.set(until)
    assert s.broker.positions() == []
    [out] = s.out_deals()
    return s, out


def run_engine(frame: pd.DataFrame, side: OrderSide) -> pd.Series:
    signals = np.zeros(len(frame), dtype=np.int8)
    # decided at the 09:00 bar's close, filled at the 10:00 bar's open (the one shift)
    signals[frame.index.get_loc(pd.Timestamp("2024-03-05 09:00", tz="UTC"))] = side.sign
    config = BacktestConfig.for_instrument(
        XAUUSD, spread_pips=3, slippage_pips=1, commission_per_lot=7.0,
        swap_long_per_lot=float(XAUUSD.swap_long), swap_short_per_lot=float(XAUUSD.swap_short),
        lots=0.10, sl_distance=float(SL_DISTANCE), tp_distance=float(TP_DISTANCE),
        exit_on_opposite=False)
    trades = run_backtest(frame, signals, config).trades
    assert len(trades) == 1
    return trades.iloc[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_sl_tp_on_a_bar(case):
    side, ohlc, reason, price = CASES[case]
    s, out = run_paper(frame_with(LATER, ohlc), side, "2024-03-08 12:30")
    assert out.reason is DealReason(reason)
    assert out.price == D(price)
    assert out.time == pd.Timestamp(LATER, tz="UTC").to_pydatetime()
    entry = D("2350.40") if side is BUY else D("2349.90")
    assert out.profit == pnl.profit(side.sign, D("0.10"), entry, D(price), XAUUSD)
    assert out.commission == D("-0.70")
    assert out.swap == pnl.swap(side.sign, D("0.10"), 2, XAUUSD.swap_long, XAUUSD.swap_short)
    info = s.broker.account_info()
    assert info.balance == D("10000") + out.profit + out.commission + out.swap


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("event_time", ["2024-03-05 11:00", LATER])
def test_paper_exits_equal_the_backtest_engine(case, event_time):
    side, ohlc, _reason, _price = CASES[case]
    frame = frame_with(event_time, ohlc)
    _s, out = run_paper(frame, side, "2024-03-08 12:30")
    trade = run_engine(frame, side)
    assert out.time == trade["exit_time"].to_pydatetime()
    assert out.reason.value == trade["exit_reason"]
    assert float(out.price) == pytest.approx(trade["exit_price"], abs=1e-9)
    assert float(out.commission) == -trade["commission"]
    assert float(out.swap) == trade["swap"]
    assert float(out.profit + out.commission + out.swap) == trade["net_pnl"]


def test_a_bar_is_applied_once_even_when_asked_many_times():
    frame = frame_with("2024-03-05 11:00", CASES["buy_sl"][1])
    s = Scenario({"XAUUSD": frame}, ENTRY_CLOCK)
    s.place("XAUUSD", BUY, "0.10", sl="2348.40")
    for minute in ("10:30", "10:59", "11:00", "11:59"):
        s.clock.set(f"2024-03-05 {minute}")     # the 11:00 bar has not closed yet
        assert len(s.broker.positions()) == 1
    s.clock.set("2024-03-05 12:00")
    assert s.broker.positions() == []
    s.clock.set("2024-03-05 15:00")
    assert len(s.out_deals()) == 1


def test_stops_are_checked_from_the_entry_bar_on():
    # the entry bar itself (10:00) dips to the SL: closed when that bar closes
    frame = bars("2024-03-04", "2024-03-09", 2350.0,
                 {"2024-03-05 10:00": (2350.00, 2350.20, 2348.00, 2349.00)})
    s = Scenario({"XAUUSD": frame}, ENTRY_CLOCK)
    s.place("XAUUSD", BUY, "0.10", sl="2348.40")
    s.clock.set("2024-03-05 11:05")
    [out] = s.out_deals()
    assert out.reason is DealReason.STOP_LOSS
    # the engine times it at the bar's open; the entry was at 10:15: never before the entry
    assert out.time == pd.Timestamp(ENTRY_CLOCK, tz="UTC").to_pydatetime()


def test_a_modified_stop_is_the_one_that_fills():
    frame = frame_with("2024-03-05 12:00", (2350.00, 2350.50, 2348.00, 2349.00))
    s = Scenario({"XAUUSD": frame}, ENTRY_CLOCK)
    opened = s.place("XAUUSD", BUY, "0.10", sl="2340.00")
    s.clock.set("2024-03-05 11:10")
    changed = s.broker.modify_position(opened.position_ticket, D("2349.00"), D("2360.00"),
                                       client_id="NTmod", magic=77)
    assert changed.retcode == 10009
    s.clock.set("2024-03-05 13:10")
    [out] = s.out_deals()
    assert (out.reason, out.price) == (DealReason.STOP_LOSS, D("2348.90"))
    assert (out.client_id, out.magic) == ("[sl 2349.00]", 77)   # MT5's comment, our magic


def test_positions_without_stops_stay_open_through_any_bar():
    frame = frame_with("2024-03-05 11:00", (2350.00, 2400.00, 2300.00, 2350.00))
    s = Scenario({"XAUUSD": frame}, ENTRY_CLOCK)
    s.place("XAUUSD", BUY, "0.10")
    s.clock.set("2024-03-05 14:00")
    assert len(s.broker.positions()) == 1 and s.out_deals() == []


def test_a_gap_through_the_tp_fills_the_tp_at_the_open_even_if_the_bar_then_hits_the_sl():
    """trading.fills.first_touch's precedence: the open comes first. (The engine's kernel still
    has its own copy of the rule and says SL here; when it adopts first_touch the two agree.)"""
    frame = frame_with("2024-03-05 11:00", (2354.00, 2355.00, 2348.00, 2350.00))
    _s, out = run_paper(frame, BUY, "2024-03-05 12:30")
    assert (out.reason, out.price) == (DealReason.TAKE_PROFIT, D("2353.90"))
