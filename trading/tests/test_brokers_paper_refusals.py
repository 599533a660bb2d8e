"""PaperBroker refusals (MT5 return codes, REJECTED, nothing booked), margin and stop-out."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from nusatrade.errors import DataError
from trading import pnl
from trading.brokers import retcodes
from trading.brokers.base import DealReason, OrderSide, OrderState
from trading.tests.paper_scenarios import XAUUSD, Scenario, bars

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
GOLD = bars("2024-03-04", "2024-03-09", 2350.0)     # flat: bid 2350.00, ask 2350.30


def gold(start: str = "2024-03-05 10:15", **settings: object) -> Scenario:
    return Scenario({"XAUUSD": GOLD}, start, **settings)


def assert_refused(s: Scenario, outcome, retcode: int) -> None:
    assert outcome.state is OrderState.REJECTED
    assert outcome.retcode == retcode
    assert outcome.message.startswith(retcodes.meaning(retcode))
    assert s.broker.positions() == [] or outcome.retcode in (retcodes.POSITION_CLOSED,
                                                             retcodes.INVALID_CLOSE_VOLUME,
                                                             retcodes.NO_CHANGES,
                                                             retcodes.INVALID_STOPS)


@pytest.mark.parametrize(("volume", "why"), [
    ("0", "not a positive number"),
    ("-0.01", "not a positive number"),
    ("NaN", "not a positive number"),
    ("0.005", "below XAUUSD's minimum"),
    ("0.015", "not a multiple of XAUUSD's step"),
    ("100.01", "above XAUUSD's maximum"),
])
def test_invalid_volume_is_10014(volume, why):
    s = gold()
    outcome = s.place("XAUUSD", BUY, volume)
    assert_refused(s, outcome, retcodes.INVALID_VOLUME)
    assert why in outcome.message
    assert s.broker.account_info().balance == D("10000")


@pytest.mark.parametrize(("side", "sl", "tp", "why"), [
    (BUY, "2351.00", None, "BUY SL 2351.00 must be below the bid 2350.00"),
    (BUY, None, "2349.00", "BUY TP 2349.00 must be above the bid 2350.00"),
    (SELL, "2350.00", None, "SELL SL 2350.00 must be above the ask 2350.30"),
    (SELL, None, "2351.00", "SELL TP 2351.00 must be below the ask 2350.30"),
    # XAUUSD's stops level is 50 points (0.50): 0.40 from the bid is too close
    (BUY, "2349.60", None, "by at least 0.50"),
])
def test_stops_on_the_wrong_side_or_too_close_are_10016(side, sl, tp, why):
    s = gold()
    outcome = s.place("XAUUSD", side, "0.10", sl=sl, tp=tp)
    assert_refused(s, outcome, retcodes.INVALID_STOPS)
    assert why in outcome.message


def test_stops_are_normalised_to_the_digits_and_zero_means_none():
    s = gold()
    outcome = s.place("XAUUSD", BUY, "0.10", sl="2340.005", tp="0")
    assert outcome.state is OrderState.FILLED
    [position] = s.broker.positions()
    assert (position.sl, position.tp) == (D("2340.00"), None)


@pytest.mark.parametrize(("fields", "column"), [
    ({"sl": "NaN"}, "sl/tp"),
    ({"tp": "-5"}, "sl/tp"),
    ({"client_id": "has space"}, "client_id"),
    ({"client_id": ""}, "client_id"),
    ({"magic": -1}, "magic"),
])
def test_a_malformed_request_is_the_callers_bug_and_records_nothing(fields, column):
    s = gold()
    with pytest.raises(DataError) as caught:
        s.place("XAUUSD", BUY, "0.10", **fields)
    assert caught.value.column == column
    assert s.broker.history_orders(s.clock() - pd.Timedelta(hours=1),
                                   s.clock() + pd.Timedelta(hours=1)) == []


def test_positions_of_another_magic_are_never_touched():
    s = gold()
    hand = s.broker.open_by_hand("XAUUSD", SELL, D("0.10"), comment="a person")
    closing = s.broker.close_position(hand.position_ticket, client_id="NTx", magic=77)
    moving = s.broker.modify_position(hand.position_ticket, None, D("2300.00"),
                                      client_id="NTx", magic=77)
    assert closing.retcode == moving.retcode == retcodes.INVALID
    assert "carries magic 0" in closing.message
    [position] = s.broker.positions()
    assert (position.volume, position.tp) == (D("0.10"), None)
    # the person closes it (magic 0)
    assert s.broker.close_position(hand.position_ticket, client_id="",
                                   magic=0).state is OrderState.FILLED


def test_stops_just_outside_the_stops_level_are_accepted():
    s = gold()
    outcome = s.place("XAUUSD", BUY, "0.10", sl="2349.50", tp="2350.50")
    assert outcome.state is OrderState.FILLED


@pytest.mark.parametrize("when", ["2024-03-09 12:00",     # Saturday
                                  "2024-03-08 22:30",     # Friday after the weekly close
                                  "2024-12-25 12:00"])    # a holiday
def test_orders_outside_forex_hours_are_10018(when):
    frame = bars("2024-03-04", "2024-12-31", 2350.0)
    s = Scenario({"XAUUSD": frame}, when)
    assert_refused(s, s.place("XAUUSD", BUY, "0.10"), retcodes.MARKET_CLOSED)


def test_closing_when_the_market_is_closed_is_10018():
    s = gold("2024-03-08 20:00")
    opened = s.place("XAUUSD", BUY, "0.10")
    s.clock.set("2024-03-09 10:00")
    outcome = s.broker.close_position(opened.position_ticket, client_id="NTc", magic=77)
    assert outcome.retcode == retcodes.MARKET_CLOSED
    assert len(s.broker.positions()) == 1


def test_not_enough_free_margin_is_10019():
    # 0.50 lot at 2350.40, 1:100: margin 1175.20 > 1000 of free margin
    s = gold(balance="1000")
    outcome = s.place("XAUUSD", BUY, "0.50")
    assert_refused(s, outcome, retcodes.NO_MONEY)
    assert "margin 1175.20 needed" in outcome.message
    assert s.place("XAUUSD", BUY, "0.40").state is OrderState.FILLED     # 940.16 fits


def test_closing_an_unknown_or_closed_position_is_10036():
    s = gold()
    assert_refused(s, s.broker.close_position(999, client_id="NTx", magic=77),
                   retcodes.POSITION_CLOSED)
    opened = s.place("XAUUSD", BUY, "0.10")
    assert s.broker.close_position(opened.position_ticket, client_id="NTc",
                                   magic=77).retcode == retcodes.DONE
    again = s.broker.close_position(opened.position_ticket, client_id="NTc", magic=77)
    assert again.retcode == retcodes.POSITION_CLOSED
    assert s.broker.modify_position(opened.position_ticket, None, None).retcode == \
        retcodes.POSITION_CLOSED
    assert len(s.out_deals()) == 1


def test_closing_more_than_the_position_is_10038():
    s = gold()
    opened = s.place("XAUUSD", BUY, "0.10")
    outcome = s.broker.close_position(opened.position_ticket, client_id="NTc", magic=77,
                                      volume=D("0.20"))
    assert outcome.retcode == retcodes.INVALID_CLOSE_VOLUME
    assert s.broker.positions()[0].volume == D("0.10")


def test_a_close_order_must_be_the_opposite_side():
    s = gold()
    opened = s.place("XAUUSD", BUY, "0.10")
    same = s.place("XAUUSD", BUY, "0.10", position_ticket=opened.position_ticket)
    assert same.retcode == retcodes.INVALID
    closing = s.place("XAUUSD", SELL, "0.10", position_ticket=opened.position_ticket)
    assert closing.state is OrderState.FILLED and s.broker.positions() == []


def test_an_unknown_symbol_is_an_invalid_request():
    s = gold()
    assert_refused(s, s.place("GBPJPY", BUY, "0.10"), retcodes.INVALID)


def test_modifying_to_the_same_levels_is_10025_and_wrong_side_is_10016():
    s = gold()
    opened = s.place("XAUUSD", BUY, "0.10", sl="2340.00")
    ticket = opened.position_ticket
    ours = {"client_id": "NTmod", "magic": 77}
    assert s.broker.modify_position(ticket, D("2340.00"), None, **ours).retcode == \
        retcodes.NO_CHANGES
    assert s.broker.modify_position(ticket, D("2355.00"), None, **ours).retcode == \
        retcodes.INVALID_STOPS
    assert s.broker.positions()[0].sl == D("2340.00")


def test_rejected_orders_stay_in_the_order_history():
    s = gold()
    s.place("XAUUSD", BUY, "0.015", client_id="NTbad")
    start = s.clock() - pd.Timedelta(hours=1)
    [order] = s.broker.history_orders(start, s.clock() + pd.Timedelta(hours=1))
    assert (order.state, order.client_id, order.volume_filled) == ("rejected", "NTbad", D("0"))
    assert s.all_deals() == []


# -- margin and stop-out -----------------------------------------------------------------------
CRASH = bars("2024-03-04", "2024-03-09", 2350.0,
             {"2024-03-05 11:00": (2350.00, 2350.00, 2300.00, 2300.00)})
CRASH.loc[CRASH.index > "2024-03-05 11:00", ["open", "high", "low", "close"]] = 2300.00


def test_stop_out_closes_the_worst_position_and_checks_again():
    """Balance 1040, 1:100. BUY 0.20 at 2350.40 and SELL 0.05 at 2349.90. The 11:00 bar closes
    at 2300.00: BUY floats -1008.00, SELL +248.00 (ask 2300.30): equity 280.00; margin
    460.00 + 115.02 = 575.02: level 48.69 % < 50 %. The BUY (the largest loss) is closed at the
    bid - slippage, 2299.90: -1010.00; then the SELL alone: equity 278, margin 115.02, 241 %:
    it stays open."""
    s = Scenario({"XAUUSD": CRASH}, "2024-03-05 10:15", balance="1040")
    long = s.place("XAUUSD", BUY, "0.20")
    short = s.place("XAUUSD", SELL, "0.05")
    s.clock.set("2024-03-05 12:05")
    [out] = s.out_deals()
    assert (out.position_ticket, out.reason) == (long.position_ticket, DealReason.STOP_OUT)
    assert out.price == D("2299.90") and out.profit == D("-1010.00")
    assert out.time == pd.Timestamp("2024-03-05 12:00", tz="UTC").to_pydatetime()
    info = s.broker.account_info()
    assert info.balance == D("30.00")
    [left] = s.broker.positions()
    assert left.ticket == short.position_ticket
    assert info.margin == pnl.margin_required(D("0.05"), D("2300.30"), XAUUSD, 100)
    assert info.margin_level == pnl.margin_level(info.equity, info.margin) > 50


def test_stop_out_keeps_closing_while_the_level_stays_below():
    s = Scenario({"XAUUSD": CRASH}, "2024-03-05 10:15", balance="1500")
    small = s.place("XAUUSD", BUY, "0.10")
    big = s.place("XAUUSD", BUY, "0.30")
    s.clock.set("2024-03-05 12:05")
    outs = s.out_deals()
    assert [d.position_ticket for d in outs] == [big.position_ticket, small.position_ticket]
    assert {d.reason for d in outs} == {DealReason.STOP_OUT}
    assert s.broker.positions() == []
    assert s.broker.account_info().balance == D("1500") + sum(d.profit for d in outs)


def test_the_stop_out_level_is_the_accounts():
    # the same crash with a 30 % stop-out level: 48.69 % is not low enough
    s = Scenario({"XAUUSD": CRASH}, "2024-03-05 10:15", balance="1040",
                 stop_out_level=D("30"))
    s.place("XAUUSD", BUY, "0.20")
    s.place("XAUUSD", SELL, "0.05")
    s.clock.set("2024-03-05 12:05")
    assert s.out_deals() == [] and len(s.broker.positions()) == 2
