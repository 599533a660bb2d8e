"""MT5Broker places, closes and looks up orders on the simulator; money is Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.brokers.base import DealEntry, DealReason, OrderSide, OrderState, client_id_for
from trading.tests.mt5_helpers import MAGIC, START, make, order


def test_xauusd_buy_010_from_2350_to_235250_makes_25_dollars():
    sim, broker, _ = make(["2350.00", "2350.00", "2352.50", "2352.50"])
    opened = broker.place_market_order(order("xau-1"))
    assert opened.state is OrderState.FILLED and opened.retcode == 10009
    assert (opened.volume, opened.price) == (Decimal("0.1"), Decimal("2350.00"))
    sim.set_time("2024-03-05 13:30")
    closed = broker.close_position(opened.position_ticket, client_id=client_id_for("xau-1c"),
                                   magic=MAGIC)
    assert closed.state is OrderState.FILLED and closed.price == Decimal("2352.50")
    out = [d for d in broker.deals(START, START.to_pydatetime().replace(hour=23))
           if d.entry is DealEntry.OUT]
    assert len(out) == 1 and out[0].profit == Decimal("25.00")
    assert isinstance(out[0].profit, Decimal)
    account = broker.account_info()
    assert account.balance == Decimal("10025.00") and isinstance(account.equity, Decimal)
    assert sim.executed_orders == 2


def test_xauusd_sell_the_same_move_loses_25_dollars():
    sim, broker, _ = make(["2350.00", "2350.00", "2352.50", "2352.50"])
    opened = broker.place_market_order(order("xau-2", OrderSide.SELL))
    sim.set_time("2024-03-05 13:30")
    broker.close_position(opened.position_ticket, client_id=client_id_for("xau-2c"),
                          magic=MAGIC)
    assert broker.account_info().balance == Decimal("9975.00")


def test_positions_carry_magic_client_id_and_decimal_money():
    _sim, broker, _ = make(spread=25)
    outcome = broker.place_market_order(order("pos-1", sl=Decimal("2340"), tp=Decimal("2360")))
    [position] = broker.positions()
    assert position.ticket == outcome.position_ticket and position.magic == MAGIC
    assert position.client_id == client_id_for("pos-1")
    assert position.price_open == Decimal("2350.25")          # BUY at the ask
    assert (position.sl, position.tp) == (Decimal("2340.0"), Decimal("2360.0"))
    assert position.profit == Decimal("-2.5")                  # the spread, at the bid
    assert all(isinstance(v, Decimal) for v in (position.volume, position.profit,
                                                position.swap, position.price_current))


def test_requests_hold_only_plain_python_types_for_mt5linux():
    sim, broker, _ = make()
    opened = broker.place_market_order(order("plain-1", sl=Decimal("2340.004"),
                                             tp=Decimal("2360")))
    broker.modify_position(opened.position_ticket, Decimal("2341"), None,
                           client_id=client_id_for("plain-1m"), magic=MAGIC)
    broker.close_position(opened.position_ticket, client_id=client_id_for("plain-1c"),
                          magic=MAGIC, volume=Decimal("0.05"))
    assert len(sim.requests) == 6          # order_check + order_send, three times
    for request in sim.requests:
        assert {type(v) for v in request.values()} <= {int, float, str}, request


def test_sl_and_tp_are_normalised_to_the_symbols_digits():
    sim, broker, _ = make()
    broker.place_market_order(order("digits-1", sl=Decimal("2340.004"), tp=Decimal("2360.126")))
    assert (sim.requests[-1]["sl"], sim.requests[-1]["tp"]) == (2340.0, 2360.13)


def test_the_comment_is_the_client_id_and_is_cut_at_31_characters():
    sim, broker, _ = make()
    broker.place_market_order(order("comment-1", comment="a long free text note here"))
    comment = sim.requests[-1]["comment"]
    assert comment.startswith(client_id_for("comment-1") + " ") and len(comment) == 31
    assert broker.positions()[0].client_id == client_id_for("comment-1")


def test_a_position_closed_by_its_stop_while_nobody_looked_is_in_the_history():
    sim, broker, _ = make(["2350.00", "2350.00", "2346.00", "2344.00", "2344.00"])
    opened = broker.place_market_order(order("down-1", sl=Decimal("2345.00")))
    sim.set_time("2024-03-05 15:30")                 # NusaTrade was down meanwhile
    assert broker.positions() == []
    deals = broker.deals(START, START.to_pydatetime().replace(hour=23))
    [stop] = [d for d in deals if d.entry is DealEntry.OUT]
    assert stop.reason is DealReason.STOP_LOSS and stop.position_ticket == opened.position_ticket
    assert stop.price == Decimal("2345.00") and stop.profit == Decimal("-50.00")
    assert stop.magic == MAGIC
    assert broker.account_info().balance == Decimal("9950.00")
    assert sim.executed_orders == 1                  # the stop is the server's, not ours


@pytest.mark.parametrize("filling_modes, expected", [(1, 0), (2, 1), (3, 0), (0, 2)])
def test_the_filling_mode_comes_from_the_symbols_allowed_modes(filling_modes, expected):
    from dataclasses import replace

    from trading.brokers.mt5sim import XAUUSD_SPEC

    sim, broker, _ = make(spec=replace(XAUUSD_SPEC, filling_modes=filling_modes))
    outcome = broker.place_market_order(order("fill-1"))
    assert outcome.state is OrderState.FILLED
    assert sim.requests[-1]["type_filling"] == expected


def test_closing_more_than_the_position_is_refused_before_sending():
    sim, broker, _ = make()
    opened = broker.place_market_order(order("big-close"))
    outcome = broker.close_position(opened.position_ticket, client_id=client_id_for("bc"),
                                    magic=MAGIC, volume=Decimal("0.20"))
    assert outcome.state is OrderState.REJECTED and outcome.retcode == 10038
    assert sim.calls.count("order_send") == 1 and broker.positions()[0].volume == Decimal("0.1")


def test_a_partial_close_leaves_the_rest_open():
    sim, broker, _ = make()
    opened = broker.place_market_order(order("half-close"))
    outcome = broker.close_position(opened.position_ticket, client_id=client_id_for("hc"),
                                    magic=MAGIC, volume=Decimal("0.04"))
    assert outcome.state is OrderState.FILLED and outcome.volume == Decimal("0.04")
    assert outcome.position_ticket == opened.position_ticket
    assert broker.positions()[0].volume == Decimal("0.06") and sim.executed_orders == 2


@pytest.mark.parametrize("fields", [{"client_id": "NT with space"}, {"client_id": "NTé"},
                                    {"client_id": "N" * 32}, {"client_id": ""},
                                    {"magic": 0}, {"magic": -5},
                                    {"sl": Decimal("NaN")}, {"tp": Decimal("-1")}])
def test_malformed_identity_or_levels_are_a_data_error_and_send_nothing(fields):
    from dataclasses import replace

    from nusatrade.errors import DataError

    sim, broker, _ = make()
    with pytest.raises(DataError):
        broker.place_market_order(replace(order("bad-1"), **fields))
    assert "order_send" not in sim.calls and "order_check" not in sim.calls


def test_a_gmt2_servers_positions_deals_and_orders_come_back_in_utc():
    sim, broker, _ = make(server_timezone="NY+7")
    opened = broker.place_market_order(order("tz-1"))
    assert opened.time.isoformat() == "2024-03-05T10:30:00+00:00"
    assert broker.positions()[0].time == opened.time
    deals = broker.deals(START, START.to_pydatetime().replace(hour=11))
    assert [d.time for d in deals] == [opened.time]
    [record] = broker.history_orders(START, START.to_pydatetime().replace(hour=11))
    assert record.time == opened.time and record.state == "filled"
    assert record.volume_filled == Decimal("0.1") and record.client_id == client_id_for("tz-1")
    assert sim.history_deals_get(ticket=opened.order_ticket)[0].time == int(
        START.timestamp()) + 1800 + 2 * 3600              # the server clock reads GMT+2
    assert broker.tick("XAUUSD").time == opened.time
