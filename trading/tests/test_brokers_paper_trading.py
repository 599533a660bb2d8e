"""PaperBroker trading: fills at bid/ask + slippage at the open of the bar containing the clock,
and every cost and P/L equal to trading/pnl.py, to the cent, on hand-worked examples.

Default costs (the backtest command's): spread 3 pips, slippage 1 pip. XAUUSD pip = 0.1, so a
BUY fills at open + 0.30 + 0.10 and closes at the bid - 0.10; EURUSD pip = 0.0001.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from nusatrade.errors import ConfigurationError
from trading import pnl
from trading.brokers import retcodes
from trading.brokers.base import DealEntry, DealReason, OrderSide, OrderState
from trading.brokers.paper import PaperBroker
from trading.tests.paper_scenarios import EURUSD, SPECS, XAUUSD, Scenario, bars

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL

GOLD = bars("2024-03-04", "2024-03-09", 2350.0, {
    "2024-03-05 10:00": (2350.00, 2350.00, 2350.00, 2350.00),
    "2024-03-05 11:00": (2350.00, 2352.50, 2349.00, 2352.50),
    "2024-03-05 12:00": (2352.50, 2352.50, 2352.50, 2352.50),
})
# Flat at 2352.50 after the drawn bars.
GOLD.loc[GOLD.index >= "2024-03-05 12:00", ["open", "high", "low", "close"]] = 2352.50
EURO = bars("2024-03-04", "2024-03-09", 1.08500)
EURO.loc[EURO.index >= "2024-03-05 12:00", ["open", "high", "low", "close"]] = 1.08620


def gold(**settings: object) -> Scenario:
    return Scenario({"XAUUSD": GOLD, "EURUSD": EURO}, "2024-03-05 10:15", **settings)


def test_the_price_at_the_clock_is_the_open_of_the_bar_containing_it():
    s = gold()
    tick = s.broker.tick("XAUUSD")
    assert (tick.bid, tick.ask) == (D("2350.00"), D("2350.30"))
    s.clock.set("2024-03-05 11:00")     # a decision at the 10:00 bar's close fills here
    assert s.broker.tick("XAUUSD").bid == D("2350.00")
    s.clock.set("2024-03-05 11:59")     # never the forming bar's close (2352.50)
    assert s.broker.tick("XAUUSD").bid == D("2350.00")
    s.clock.set("2024-03-05 12:00")
    assert s.broker.tick("XAUUSD").bid == D("2352.50")


def test_buy_xauusd_spread_slippage_commission_to_the_cent():
    s = gold(commission_per_lot=D("7"))
    opened = s.place("XAUUSD", BUY, "0.10")
    assert opened.state is OrderState.FILLED and opened.retcode == retcodes.DONE
    assert opened.price == D("2350.40")          # ask 2350.30 + 1 pip slippage
    s.clock.set("2024-03-05 12:20")
    closed = s.broker.close_position(opened.position_ticket, client_id="NTclose", magic=77)
    assert closed.price == D("2352.40")          # bid 2352.50 - 1 pip slippage
    [out] = s.out_deals()
    # (2352.40 - 2350.40) x 100 oz x 0.10 lot = +20.00 = gross 25.00 - spread 3.00 - slip 2.00
    assert out.profit == pnl.profit(1, D("0.10"), D("2350.40"), D("2352.40"), XAUUSD) == D("20.00")
    gross = pnl.profit(1, D("0.10"), D("2350.00"), D("2352.50"), XAUUSD)
    spread = pnl.spread_cost(D("0.10"), D("0.30"), XAUUSD)
    slippage = pnl.slippage_cost(D("0.10"), D("0.10"), XAUUSD)
    assert (gross, spread, slippage) == (D("25.00"), D("3.00"), D("2.00"))
    assert out.profit == gross - spread - slippage
    assert out.commission == -pnl.commission(D("0.10"), D("7")) == D("-0.70")
    assert out.swap == D("0.00") and out.reason is DealReason.EXPERT
    info = s.broker.account_info()
    assert info.balance == D("10019.30") == info.equity


def test_sell_xauusd_pays_the_spread_on_the_close():
    s = gold()
    opened = s.place("XAUUSD", SELL, "0.10")
    assert opened.price == D("2349.90")          # bid 2350.00 - slippage
    s.clock.set("2024-03-05 12:20")
    closed = s.broker.close_position(opened.position_ticket, client_id="NTc", magic=77)
    assert closed.price == D("2352.90")          # ask 2352.80 + slippage
    [out] = s.out_deals()
    # -(2352.90 - 2349.90) x 100 x 0.10 = -30.00 = gross -25.00 - spread 3.00 - slip 2.00
    assert out.profit == pnl.profit(-1, D("0.10"), D("2349.90"), D("2352.90"), XAUUSD)
    assert out.profit == D("-30.00")
    assert s.broker.account_info().balance == D("9970.00")


@pytest.mark.parametrize(("side", "entry", "exit_", "profit"), [
    # BUY 1 lot at ask 1.08530 + 0.00010; out at bid 1.08620 - 0.00010: 0.00070 x 100,000
    (BUY, "1.08540", "1.08610", "70.00"),
    # SELL 1 lot at bid 1.08500 - 0.00010; out at ask 1.08650 + 0.00010: -0.00170 x 100,000
    (SELL, "1.08490", "1.08660", "-170.00"),
])
def test_eurusd_buy_and_sell_to_the_cent(side, entry, exit_, profit):
    s = gold(commission_per_lot=D("7"))
    opened = s.place("EURUSD", side, "1.00")
    assert opened.price == D(entry)
    s.clock.set("2024-03-05 12:20")
    closed = s.broker.close_position(opened.position_ticket, client_id="NTc", magic=77)
    assert closed.price == D(exit_)
    [out] = s.out_deals()
    assert out.profit == pnl.profit(side.sign, D("1.00"), D(entry), D(exit_), EURUSD)
    assert out.profit == D(profit)
    # gross (bid to bid) +-120.00; spread 3 pips = 0.0003 x 100,000 = 30.00; slippage 1 pip on
    # each of two fills = 20.00
    gross = pnl.profit(side.sign, D("1.00"), D("1.08500"), D("1.08620"), EURUSD)
    spread = pnl.spread_cost(D("1.00"), EURUSD.pips(3), EURUSD)
    slippage = pnl.slippage_cost(D("1.00"), EURUSD.pips(1), EURUSD)
    assert (abs(gross), spread, slippage) == (D("120.00"), D("30.00"), D("20.00"))
    assert out.profit == gross - spread - slippage
    assert out.commission == D("-7.00") == -pnl.commission(D("1.00"), D("7"))
    assert s.broker.account_info().balance == D("10000") + D(profit) - D("7.00")


@pytest.mark.parametrize(("symbol", "side", "lots", "swap"), [
    ("XAUUSD", BUY, "0.10", "-1.10"),     # -5.50 x 0.10 x 2 nights
    ("XAUUSD", SELL, "0.10", "0.42"),     # +2.10 x 0.10 x 2 nights: a credit
    ("EURUSD", BUY, "1.00", "-14.50"),    # -7.25 x 1 x 2
    ("EURUSD", SELL, "0.30", "1.08"),     # +1.80 x 0.30 x 2
])
def test_swap_is_charged_per_utc_midnight_held(symbol, side, lots, swap):
    s = gold()
    opened = s.place(symbol, side, lots)
    s.clock.set("2024-03-06 23:30")       # one midnight: the position shows one night
    one = s.broker.positions()[0]
    spec = SPECS[symbol]
    assert one.swap == pnl.swap(side.sign, D(lots), 1, spec.swap_long, spec.swap_short)
    s.clock.set("2024-03-07 09:10")       # two midnights
    assert s.broker.positions()[0].swap == D(swap)
    s.broker.close_position(opened.position_ticket, client_id="NTc", magic=77)
    [out] = s.out_deals()
    assert out.swap == pnl.swap(side.sign, D(lots), 2, spec.swap_long, spec.swap_short)
    assert out.swap == D(swap)
    assert s.broker.account_info().balance == D("10000") + out.profit + out.swap


def test_partial_close_books_its_share_and_keeps_the_rest_open():
    s = gold(commission_per_lot=D("7"))
    opened = s.place("XAUUSD", BUY, "0.30")
    s.clock.set("2024-03-05 12:20")
    part = s.broker.close_position(opened.position_ticket, client_id="NTp", magic=77,
                                   volume=D("0.10"))
    assert part.volume == D("0.10")
    [left] = s.broker.positions()
    assert left.volume == D("0.20") and left.ticket == opened.position_ticket
    assert s.broker.account_info().balance == D("10000") + D("20.00") - D("0.70")


def test_account_money_follows_the_open_position():
    s = gold(leverage=100)
    s.place("XAUUSD", BUY, "0.10")
    s.clock.set("2024-03-05 12:20")
    info = s.broker.account_info()
    floating = pnl.profit(1, D("0.10"), D("2350.40"), D("2352.50"), XAUUSD)
    margin = pnl.margin_required(D("0.10"), D("2352.50"), XAUUSD, 100)
    assert (floating, margin) == (D("21.00"), D("235.25"))
    assert info.equity == D("10021.00") and info.margin == margin
    assert info.margin_free == info.equity - margin
    assert info.margin_level == pnl.margin_level(info.equity, margin)
    [position] = s.broker.positions()
    assert position.profit == floating and position.price_current == D("2352.50")


def test_state_survives_a_new_broker_on_the_same_account():
    s = gold()
    opened = s.place("XAUUSD", BUY, "0.10", sl="2340.00", tp="2360.00", client_id="NTkeep")
    again = s.new_broker()
    [position] = again.positions()
    assert (position.ticket, position.client_id, position.magic) == (
        opened.position_ticket, "NTkeep", 77)
    assert (position.sl, position.tp) == (D("2340.00"), D("2360.00"))
    found = again.find_order("NTkeep", 77, s.clock() - pd_hours(1))
    assert found is not None and found.position_ticket == opened.position_ticket


def test_the_paper_broker_does_not_deduplicate_client_ids():
    s = gold()
    first = s.place("XAUUSD", BUY, "0.01", client_id="NTsame")
    second = s.place("XAUUSD", BUY, "0.01", client_id="NTsame")
    assert first.position_ticket != second.position_ticket
    assert len(s.broker.positions()) == 2


def test_a_position_opened_by_hand_carries_its_own_magic_and_reason():
    s = gold()
    hand = s.broker.open_by_hand("XAUUSD", SELL, D("0.05"), comment="manual")
    ours = s.place("XAUUSD", BUY, "0.01", client_id="NTours", magic=77)
    magics = {p.ticket: p.magic for p in s.broker.positions()}
    assert magics == {hand.position_ticket: 0, ours.position_ticket: 77}
    reasons = {d.position_ticket: d.reason for d in s.all_deals()}
    assert reasons[hand.position_ticket] is DealReason.CLIENT
    assert reasons[ours.position_ticket] is DealReason.EXPERT
    assert s.broker.find_order("manual", 77, s.clock() - pd_hours(1)) is None


def test_orders_and_deals_history_carry_magic_and_client_id():
    s = gold()
    opened = s.place("XAUUSD", BUY, "0.01", client_id="NThist", magic=5)
    start, end = s.clock() - pd_hours(1), s.clock() + pd_hours(1)
    [order] = s.broker.history_orders(start, end)
    assert (order.ticket, order.magic, order.client_id, order.state) == (
        opened.order_ticket, 5, "NThist", "filled")
    [deal] = s.broker.deals(start, end)
    assert (deal.ticket, deal.entry, deal.client_id) == (opened.deal_ticket, DealEntry.IN,
                                                         "NThist")


def test_trading_without_an_account_store_is_a_configuration_error():
    broker = PaperBroker(SPECS)
    with pytest.raises(ConfigurationError, match="no account store"):
        broker.account_info()


def pd_hours(hours: int):
    from datetime import timedelta

    return timedelta(hours=hours)


def test_spread_from_the_bars_spread_column():
    # the 10:00 bar's spread column says 25 points: 0.25 on XAUUSD
    frame = bars("2024-03-04", "2024-03-09", 2350.0, spread_points=25.0)
    s = Scenario({"XAUUSD": frame}, "2024-03-05 10:15", spread_from_bars=True)
    tick = s.broker.tick("XAUUSD")
    assert (tick.bid, tick.ask) == (D("2350.00"), D("2350.25"))
    assert s.place("XAUUSD", BUY, "0.10").price == D("2350.35")


def test_defaults_are_the_backtest_commands():
    from backtests.engine import BacktestConfig
    from backtests.services.params import BacktestParams
    from trading.brokers.paper import PaperSettings

    params, settings = BacktestParams(), PaperSettings(login="x")
    assert settings.spread_pips == params.spread_pips == D("3")
    assert settings.slippage_pips == params.slippage_pips == D("1")
    assert float(settings.commission_per_lot) == BacktestConfig().commission_per_lot == 0.0
    assert settings.stop_out_level == pnl.STOP_OUT_LEVEL == D("50")
