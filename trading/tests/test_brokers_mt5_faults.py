"""Every injected simulator fault ends in the right OrderOutcome, with exactly the broker
orders it should have made: no duplicate, no lost position (RELIABILITY 4, 5, 6)."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from nusatrade.errors import TemporaryBrokerError
from trading.brokers import retcodes
from trading.brokers.base import OrderState, client_id_for
from trading.tests.mt5_helpers import MAGIC, PASSWORD, make, order


def after(calls: list[str], name: str) -> list[str]:
    """The calls made after the last ``name``."""
    return calls[len(calls) - calls[::-1].index(name):]


@pytest.mark.parametrize("kind, code", [("requote", 10004), ("price_changed", 10020),
                                        ("off_quotes", 10021)])
def test_repricing_codes_are_retried_from_a_fresh_tick_then_filled(kind, code, caplog):
    sim, broker, waits = make()
    sim.queue_fault(kind, times=2, shift_points=40)
    with caplog.at_level(logging.WARNING, logger="nusatrade.brokers.mt5"):
        outcome = broker.place_market_order(order("reprice-1"))
    assert outcome.state is OrderState.FILLED and outcome.attempts == 3
    assert sim.executed_orders == 1 and len(broker.positions()) == 1
    sent = [r["price"] for r in sim.requests[1::2]]          # order_send requests
    assert sent == [2350.0, 2350.4, 2350.8]                  # each one at the fresh price
    assert outcome.price == Decimal("2350.80")
    assert waits == [0.25, 0.5]                              # backoff, not slept in tests
    assert [line.split(":")[1].strip() for line in outcome.retries] == [
        f"order_send retcode {code} ({retcodes.meaning(code)})"] * 2
    logged = [r.getMessage() for r in caplog.records if str(code) in r.getMessage()]
    assert len(logged) == 2


def test_repricing_is_bounded_and_then_rejected():
    sim, broker, waits = make(max_attempts=3)
    sim.queue_fault("requote", times=10)
    outcome = broker.place_market_order(order("reprice-2"))
    assert outcome.state is OrderState.REJECTED and outcome.retcode == retcodes.REQUOTE
    assert "gave up after 3 attempts" in outcome.message
    assert sim.calls.count("order_send") == 3 and outcome.attempts == 3
    assert len(waits) == 2 and sim.executed_orders == 0 and broker.positions() == []


@pytest.mark.parametrize("code", [10016, 10019, 10018, 10014, 10030, 10017])
def test_terminal_codes_are_rejected_with_their_meaning_and_never_retried(code):
    sim, broker, waits = make()
    sim.queue_fault("reject", answer=code)
    outcome = broker.place_market_order(order("terminal-1"))
    assert outcome.state is OrderState.REJECTED and outcome.retcode == code
    assert retcodes.meaning(code) in outcome.message
    assert sim.calls.count("order_send") == 1 and waits == []
    assert not {"positions_get", "history_deals_get"} & set(after(sim.calls, "order_send"))
    assert sim.executed_orders == 0 and broker.positions() == []


@pytest.mark.parametrize("answer", [None, 10012, 10031, 10011])
def test_an_order_that_filled_but_lost_its_answer_is_found_not_resent(answer):
    sim, broker, _ = make()
    sim.queue_fault("timeout", answer=answer)
    outcome = broker.place_market_order(order("lost-1"))
    assert outcome.state is OrderState.FILLED and outcome.retcode == answer
    [position] = broker.positions()
    assert outcome.position_ticket == position.ticket and outcome.volume == Decimal("0.1")
    assert sim.calls.count("order_send") == 1 and sim.executed_orders == 1
    assert "history_deals_get" in after(sim.calls, "order_send")


def test_an_order_that_did_not_fill_and_lost_its_answer_stays_unknown():
    sim, broker, _ = make()
    sim.queue_fault("timeout", answer=None, executed=False)
    outcome = broker.place_market_order(order("lost-2"))
    assert outcome.state is OrderState.UNKNOWN and "not found at the broker" in outcome.message
    assert sim.calls.count("order_send") == 1 and sim.executed_orders == 0
    assert {"history_deals_get", "positions_get"} <= set(after(sim.calls, "order_send"))


def test_a_disconnect_reconnects_looks_up_and_reports_unknown_without_resending():
    sim, broker, _ = make()
    sim.queue_fault("disconnect")
    outcome = broker.place_market_order(order("disc-1"))
    assert outcome.state is OrderState.UNKNOWN and outcome.retcode is None
    assert "No IPC connection" in outcome.message
    assert after(sim.calls, "order_send")[0] == "initialize"    # reconnected for the look-up
    assert sim.calls.count("order_send") == 1 and sim.executed_orders == 0


def test_a_look_up_that_cannot_reach_the_terminal_is_unknown_too():
    sim, broker, _ = make()
    broker.connect()
    sim.queue_fault("disconnect")
    sim.fail_next("initialize", sim.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
    outcome = broker.place_market_order(order("disc-2"))
    assert outcome.state is OrderState.UNKNOWN and "look-up failed" in outcome.message
    assert sim.calls.count("order_send") == 1 and sim.executed_orders == 0


def test_a_partial_fill_is_recorded_as_such():
    sim, broker, _ = make()
    sim.queue_fault("partial", fraction=Decimal("0.5"))
    outcome = broker.place_market_order(order("part-1", volume="0.10"))
    assert outcome.state is OrderState.PARTIALLY_FILLED and outcome.retcode == 10010
    assert outcome.volume == Decimal("0.05")
    assert broker.positions()[0].volume == Decimal("0.05") and sim.executed_orders == 1


def test_no_answer_from_order_check_raises_before_anything_is_sent():
    sim, broker, _ = make()
    sim.fail_next("order_check", sim.RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
    with pytest.raises(TemporaryBrokerError):
        broker.place_market_order(order("check-1"))
    assert sim.calls.count("order_send") == 0 and sim.executed_orders == 0


def test_order_check_refusals_are_rejected_without_sending():
    sim, broker, _ = make()
    outcome = broker.place_market_order(order("money-1", volume="50"))    # 1.17M of margin
    assert outcome.state is OrderState.REJECTED and outcome.retcode == retcodes.NO_MONEY
    assert outcome.message.startswith("order_check:") and outcome.attempts == 0
    assert "order_send" not in sim.calls


def test_stops_inside_the_stops_level_are_refused_before_reaching_the_broker():
    from dataclasses import replace

    from trading.brokers.mt5sim import XAUUSD_SPEC

    sim, broker, _ = make(spec=replace(XAUUSD_SPEC, stops_level=100))     # 1.00 of price
    outcome = broker.place_market_order(order("stops-1", sl=Decimal("2349.50")))
    assert outcome.state is OrderState.REJECTED and outcome.retcode == retcodes.INVALID_STOPS
    assert "SL 2349.50 for a BUY must be at or below 2349.00" in outcome.message
    assert "refused before sending" in outcome.message and outcome.attempts == 0
    assert not {"order_check", "order_send"} & set(sim.calls)
    wrong_side = broker.place_market_order(order("stops-2", tp=Decimal("2340")))
    assert wrong_side.state is OrderState.REJECTED and "TP 2340" in wrong_side.message
    assert sim.executed_orders == 0


def test_volume_off_the_step_is_refused_before_reaching_the_broker():
    sim, broker, _ = make()
    outcome = broker.place_market_order(order("vol-1", volume="0.015"))
    assert outcome.state is OrderState.REJECTED and outcome.retcode == retcodes.INVALID_VOLUME
    assert "step" in outcome.message and "order_send" not in sim.calls


def test_a_close_that_lost_its_answer_is_found_and_a_repeat_sends_nothing():
    sim, broker, _ = make()
    opened = broker.place_market_order(order("close-1"))
    sim.queue_fault("timeout", answer=10012)
    closing = client_id_for("close-1-exit")
    first = broker.close_position(opened.position_ticket, client_id=closing, magic=MAGIC)
    assert first.state is OrderState.FILLED and broker.positions() == []
    again = broker.close_position(opened.position_ticket, client_id=closing, magic=MAGIC)
    assert again.state is OrderState.FILLED and "found in deal history" in again.message
    assert sim.executed_orders == 2                 # one open, one close: never a second close


def test_closing_a_position_closed_meanwhile_is_rejected_without_sending():
    sim, broker, _ = make(["2350.00", "2350.00", "2344.00", "2344.00"])
    opened = broker.place_market_order(order("gone-1", sl=Decimal("2345.00")))
    sim.set_time("2024-03-05 13:30")
    outcome = broker.close_position(opened.position_ticket, client_id=client_id_for("gone-1x"),
                                    magic=MAGIC)
    assert outcome.state is OrderState.REJECTED and outcome.retcode == 10036
    assert sim.executed_orders == 1


def test_modify_sets_levels_and_treats_no_changes_and_lost_answers_as_done():
    sim, broker, _ = make()
    opened = broker.place_market_order(order("mod-1"))
    ticket, key = opened.position_ticket, client_id_for("mod-1m")
    done = broker.modify_position(ticket, Decimal("2340"), Decimal("2360"), client_id=key,
                                  magic=MAGIC)
    assert done.state is OrderState.FILLED and done.retcode == 10009
    same = broker.modify_position(ticket, Decimal("2340"), Decimal("2360"), client_id=key,
                                  magic=MAGIC)
    assert same.state is OrderState.FILLED and same.retcode == retcodes.NO_CHANGES
    sim.queue_fault("timeout", answer=None)
    lost = broker.modify_position(ticket, Decimal("2341"), None, client_id=key, magic=MAGIC)
    assert lost.state is OrderState.FILLED and "found set" in lost.message
    [position] = broker.positions()
    assert (position.sl, position.tp) == (Decimal("2341.0"), None)


def test_a_hand_opened_position_is_never_touched():
    sim, broker, _ = make()
    hand = sim.open_by_hand("XAUUSD", "SELL", "0.20", sl="2360.00", magic=0,
                            comment=client_id_for("same-key"))
    mine = broker.place_market_order(order("same-key"))
    assert mine.state is OrderState.FILLED and mine.position_ticket != hand
    for action in (
        lambda: broker.close_position(hand, client_id=client_id_for("h1"), magic=MAGIC),
        lambda: broker.modify_position(hand, Decimal("2370"), None, client_id=client_id_for("h2"),
                                       magic=MAGIC),
        lambda: broker.place_market_order(order("h3", position_ticket=hand)),
    ):
        outcome = action()
        assert outcome.state is OrderState.REJECTED and "never touches it" in outcome.message
    found = broker.find_order(client_id_for("same-key"), MAGIC, broker._clock())
    assert found is not None and found.position_ticket == mine.position_ticket
    by_hand = [p for p in broker.positions() if p.ticket == hand]
    assert by_hand[0].volume == Decimal("0.2") and by_hand[0].sl == Decimal("2360.0")
    assert by_hand[0].magic == 0
    assert sim.executed_orders == 1
    assert all(r.get("position") != hand for r in sim.requests)


def test_the_password_never_reaches_the_logs(caplog):
    sim, broker, _ = make()
    sim.queue_fault("timeout", answer=None)
    sim.queue_fault("requote")
    with caplog.at_level(logging.DEBUG):
        broker.place_market_order(order("pw-1"))
        broker.place_market_order(order("pw-2"))
        sim.fail_next("initialize", sim.RES_E_AUTH_FAILED, "Authorization failed")
        broker.close()
        with pytest.raises(Exception):   # noqa: B017 - any failure: only its text matters
            broker.account_info()
    assert caplog.records
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)
    assert PASSWORD not in repr(broker)


class BrokenBridge:
    """The simulator behind a bridge whose link breaks during order_send, AFTER the terminal
    executed the order (mt5linux: the rpyc socket resets mid-call)."""

    def __init__(self, sim) -> None:
        self._sim, self.broken = sim, 0

    def __getattr__(self, name):
        return getattr(self._sim, name)

    def order_send(self, request):
        self._sim.order_send(request)
        self.broken += 1
        raise ConnectionResetError("connection reset by peer")


def test_a_bridge_that_breaks_mid_send_is_looked_up_not_resent():
    from trading.brokers.mt5 import MT5Broker
    from trading.tests.mt5_helpers import LOGIN

    sim, _broker, _ = make()
    bridge = BrokenBridge(sim)
    broker = MT5Broker(bridge, str(LOGIN), "Sim-Demo", lambda: PASSWORD,
                       clock=lambda: sim.now().to_pydatetime(), sleep=lambda _s: None)
    outcome = broker.place_market_order(order("bridge-1"))
    assert outcome.state is OrderState.FILLED and "ConnectionResetError" in outcome.message
    assert bridge.broken == 1 and sim.executed_orders == 1 and len(broker.positions()) == 1
