"""order_place, recovery, closing and syncing against an in-memory fake broker (unit tests;
the acceptance tests run the same paths on the paper broker and the MT5 simulator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from nusatrade.errors import DataError
from trading import pnl
from trading.brokers.base import DealReason, OrderSide, client_id_for
from trading.models import (
    Deal,
    ExitReason,
    KillSwitch,
    Order,
    OrderStatus,
    Position,
    PositionStatus,
    Signal,
)
from trading.services import (
    decision_key,
    manual_key,
    order_place,
    order_recover,
    order_refusal,
    position_close,
    positions_sync,
    signal_order_place,
    signal_record,
)
from trading.tests.conftest import make_account
from trading.tests.fakes import XAUUSD

pytestmark = pytest.mark.django_db
BAR = datetime(2026, 1, 5, 10, tzinfo=UTC)


def place(account, fake, key="k1", **fields):
    request = {"symbol": "XAUUSD", "side": "BUY", "volume": "0.01", **fields}
    return order_place(account.pk, idempotency_key=manual_key(account.pk, key), broker=fake,
                       **request)


def test_a_fill_records_order_position_and_deal(account, fake):
    result = place(account, fake, sl="2340.00", tp="2370.00")
    order = result.order
    assert result.created and result.sent and order.status == OrderStatus.FILLED
    assert order.client_id == client_id_for(order.idempotency_key)
    assert order.attempts == 1 and order.retcode == 10009 and order.fill_price == Decimal(
        "2350.30")
    position = Position.objects.get()
    assert (position.side, position.volume, position.entry_price, position.sl, position.tp) == (
        "BUY", Decimal("0.01"), Decimal("2350.30"), Decimal("2340.00"), Decimal("2370.00"))
    assert position.opening_order == order and position.status == PositionStatus.OPEN
    assert Deal.objects.get().order == order
    assert len(fake.sent) == 1 and fake.sent[0].magic == order.magic


def test_the_same_key_twice_is_one_order_and_one_send(account, fake):
    first = place(account, fake)
    again = place(account, fake)
    assert again.order.pk == first.order.pk and not again.created and not again.sent
    assert "existing order" in again.message
    assert Order.objects.count() == 1 and len(fake.sent) == 1


def test_a_refused_request_stores_only_the_rejected_intent(account, fake):
    result = place(account, fake, volume="NaN", sl="2351")
    order = result.order
    assert order.status == OrderStatus.REJECTED and order.volume is None
    assert "volume: must be a finite number" in order.error and fake.sent == []
    assert order.request["volume"] == "NaN" and order.attempts == 0
    assert Position.objects.count() == 0
    # Validation's field errors are kept as they are, for callers that answer per field.
    assert order_refusal(order) == {"volume": "must be a finite number, not NaN"}
    assert order.error == "refused before sending: volume: must be a finite number, not NaN"
    assert order_refusal(place(account, fake, key="k2").order) is None


@pytest.mark.parametrize(("fields", "field"), [
    ({"sl": "2349.90"}, "sl"), ({"tp": "2300"}, "tp"), ({"volume": "0.015"}, "volume"),
    ({"symbol": "NOPE"}, "symbol"),
])
def test_market_checks_refuse_before_the_broker(account, fake, fields, field):
    order = place(account, fake, **fields).order
    assert order.status == OrderStatus.REJECTED and f"{field}:" in order.error
    assert fake.sent == []


def test_an_engaged_kill_switch_blocks_every_new_order(account, fake):
    KillSwitch.objects.create(scope="global", reason="drill", engaged_by="ops")
    order = place(account, fake).order
    assert order.status == OrderStatus.REJECTED and "kill switch engaged" in order.error
    KillSwitch.objects.update(engaged=False)
    KillSwitch.objects.create(scope="account", account=account, reason="halt", engaged_by="ops")
    assert place(account, fake, key="k2").order.status == OrderStatus.REJECTED
    assert fake.sent == []


def test_in_flight_orders_count_as_exposure(account, fake):
    fake.fault = "unknown_after_accept"
    first = place(account, fake).order
    assert first.status == OrderStatus.UNKNOWN
    fake.fault = ""
    second = place(account, fake, key="k2").order
    assert second.status == OrderStatus.REJECTED and "one_position_per_symbol" in second.error


def test_max_trades_per_day_counts_orders(db, fake):
    account = make_account(one_position_per_symbol=False, max_trades_per_day=2)
    statuses = [place(account, fake, key=f"k{i}").order.status for i in range(3)]
    assert statuses == ["filled", "filled", "rejected"]
    assert "max_trades_per_day" in Order.objects.get(status="rejected").error


def test_a_terminal_retcode_rejects_without_retry(account, fake):
    fake.fault = "reject"
    order = place(account, fake).order
    assert order.status == OrderStatus.REJECTED and order.retcode == 10016
    assert order.retcode_text == "Invalid stops" and order.attempts == 1
    assert place(account, fake).order.attempts == 1   # never retried


def test_unknown_outcome_is_found_by_recovery_not_resent(account, fake):
    fake.fault = "unknown_after_accept"
    order = place(account, fake).order
    assert order.status == OrderStatus.UNKNOWN and len(fake.sent) == 1
    fake.fault = ""
    report = order_recover(account.pk, broker=fake)
    order.refresh_from_db()
    assert report.resolved == [(order.pk, "filled")] and order.status == OrderStatus.FILLED
    assert len(fake.sent) == 1 and Position.objects.get().opening_order == order


def test_a_sender_dying_after_the_broker_accepted_is_resolved_on_redelivery(account, fake):
    fake.fault = "raise_after_accept"
    with pytest.raises(RuntimeError):
        place(account, fake)
    order = Order.objects.get()
    assert order.status == OrderStatus.SENT and len(fake.sent) == 1
    fake.fault = ""
    again = place(account, fake)          # the redelivered task
    assert again.order.status == OrderStatus.FILLED and not again.sent
    assert len(fake.sent) == 1 and Position.objects.count() == 1


def test_an_order_not_at_the_broker_is_cancelled_never_resent(account, fake):
    fake.fault = "raise"    # BrokerError: no connection, nothing executed
    order = place(account, fake).order
    assert order.status == OrderStatus.UNKNOWN
    fake.fault = ""
    order_recover(account.pk, broker=fake)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and "not resent" in order.error
    assert fake.sent == []


def test_position_close_goes_through_the_outbox_with_pnl_from_pnl_py(account, fake):
    place(account, fake)
    position = Position.objects.get()
    fake.bid = Decimal("2352.80")
    result = position_close(position.pk, reason="flatten", broker=fake)
    assert result.order.purpose == "close" and result.order.status == OrderStatus.FILLED
    position.refresh_from_db()
    gross = pnl.profit(1, Decimal("0.01"), Decimal("2350.30"), Decimal("2352.80"), XAUUSD)
    assert position.status == PositionStatus.CLOSED and position.exit_reason == ExitReason.CLOSED
    assert position.gross_pnl == gross == Decimal("2.50")
    assert position.commission == Decimal("0.08")   # two deals x 0.035 -> 0.04 each
    assert position.net_pnl == gross - Decimal("0.08")
    again = position_close(position.pk, broker=fake)
    assert again.order.pk == result.order.pk and len(fake.sent) == 2


def test_positions_sync_closes_what_the_broker_closed_and_ignores_hand_trades(account, fake):
    place(account, fake, side="SELL", sl="2360.00")
    ours = Position.objects.get()
    hand = fake.open_by_hand(OrderSide.BUY, Decimal("0.05"), magic=0)
    fake.hit_level(int(ours.broker_ticket), Decimal("2360.00"), DealReason.STOP_LOSS)
    report = positions_sync(account.pk, broker=fake)
    ours.refresh_from_db()
    assert report.closed == [ours.pk] and ours.exit_reason == ExitReason.STOP_LOSS
    assert ours.gross_pnl == pnl.profit(-1, Decimal("0.01"), Decimal("2350.00"),
                                        Decimal("2360.00"), XAUUSD) == Decimal("-10.00")
    assert hand.ticket in fake.open_positions                 # never touched
    assert not Position.objects.filter(broker_ticket=hand.ticket).exists()
    assert positions_sync(account.pk, broker=fake).closed == []


def test_signal_orders_are_keyed_by_account_model_bar(account, fake):
    signal = signal_record(account.pk, model_id=None, symbol="XAUUSD", bar_time=BAR,
                           decision="BUY", probabilities={"BUY": 0.7})
    first = signal_order_place(signal.pk, broker=fake)
    again = signal_order_place(signal.pk, broker=fake)
    assert first.order.pk == again.order.pk and len(fake.sent) == 1
    assert first.order.idempotency_key == decision_key(account.pk, None, BAR)
    assert first.order.volume == Decimal("0.01")      # the policy's lots
    hold = Signal.objects.create(account=account, symbol="XAUUSD", bar_time=BAR, decision="HOLD")
    with pytest.raises(DataError, match="HOLD"):
        signal_order_place(hold.pk, broker=fake)


def test_a_key_of_another_account_is_refused(account, fake):
    other = make_account(username="other", name="other")
    key = manual_key(account.pk, "same")
    order_place(account.pk, idempotency_key=key, symbol="XAUUSD", side="BUY", volume="0.01",
                broker=fake)
    with pytest.raises(DataError, match="another account"):
        order_place(other.pk, idempotency_key=key, symbol="XAUUSD", side="BUY", volume="0.01",
                    broker=fake)


def test_recovery_leaves_young_orders_alone(account, fake):
    fake.fault = "unknown_after_accept"
    order = place(account, fake).order
    report = order_recover(account.pk, broker=fake, min_age=timedelta(hours=1))
    assert report.resolved == [] and Order.objects.get(pk=order.pk).status == "unknown"
