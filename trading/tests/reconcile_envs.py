"""One interface over the two brokers the reconciliation tests run against (not a test module):
the MT5 adapter driving the MT5 simulator, and the paper broker persisted in the database.

Each env opens positions through the real order path (``order_place``) and can play "someone
else at the broker": open a position there (our magic or another), close or partly close one,
move its SL/TP, and move the clock on so the broker's SL fires while we are not looking.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.conf import settings

from accounts.models import TradingAccount
from trading.brokers.base import BrokerClient, OrderSide
from trading.models import Order
from trading.reconciliation.service import reconcile_account
from trading.services import manual_key, order_place, paper_broker_at
from trading.tests import orderpaths
from trading.tests.conftest import make_account
from trading.tests.mt5_helpers import make

D = Decimal
# MT5 simulator bars: flat at 2350 from 10:00, except the 13:00 bar, which falls to 2335.
MT5_CLOSES = ["2350.00"] * 3 + ["2335.00"] + ["2350.00"] * 44


def magic() -> int:
    return int(settings.TRADING_MAGIC)


class Env:
    kind: str
    account: TradingAccount
    now: datetime
    # A BUY at the start whose stop at ``sl`` is touched before ``sl_hit_at``.
    sl: str
    sl_hit_at: datetime

    def broker(self) -> BrokerClient:
        raise NotImplementedError

    def later(self, when: datetime) -> None:
        raise NotImplementedError

    def open_at_broker(self, side: str, volume: str, *, magic: int, client_id: str) -> int:
        raise NotImplementedError

    def place(self, key: str = "p1", side: str = "BUY", volume: str = "0.02",
              **fields: str) -> Order:
        result = order_place(self.account.pk, idempotency_key=manual_key(self.account.pk, key),
                             symbol="XAUUSD", side=side, volume=volume, broker=self.broker(),
                             **fields)
        return result.order

    def close_at_broker(self, ticket: int, volume: str | None = None) -> None:
        outcome = self.broker().close_position(
            ticket, client_id="NTbyhand0001", magic=magic(),
            volume=None if volume is None else D(volume))
        assert outcome.state == "filled", outcome.message

    def modify_at_broker(self, ticket: int, sl: str | None, tp: str | None) -> None:
        outcome = self.broker().modify_position(
            ticket, None if sl is None else D(sl), None if tp is None else D(tp),
            client_id="NTmodify0001", magic=magic())
        assert outcome.state == "filled", outcome.message

    def reconcile(self, **kwargs):
        return reconcile_account(self.account.pk, now=self.now, broker=self.broker(),
                                 **kwargs)


class MT5Env(Env):
    kind = "mt5"
    sl = "2340.00"

    def __init__(self) -> None:
        self.account = make_account()
        self.sim, self._broker, _waits = make(MT5_CLOSES)
        self.now = self.sim.now().to_pydatetime()
        self.sl_hit_at = self.now + timedelta(hours=5)

    def broker(self) -> BrokerClient:
        return self._broker

    def later(self, when: datetime) -> None:
        self.sim.set_time(pd.Timestamp(when))
        self.now = when

    def open_at_broker(self, side: str, volume: str, *, magic: int, client_id: str) -> int:
        return self.sim.open_by_hand("XAUUSD", side, volume, magic=magic, comment=client_id)


class PaperEnv(Env):
    """The paper broker on stored synthetic bars (orderpaths.store_bars): at AT (10:30) a BUY
    fills near 2342.7; the 13:00 bar's low is 2336.19, so a stop at 2337.00 is hit then."""

    kind = "paper"
    sl = "2337.00"

    def __init__(self) -> None:
        orderpaths.store_bars()
        self.account = orderpaths.paper_account()
        self.now = orderpaths.AT
        self.sl_hit_at = orderpaths.AT + timedelta(hours=5)

    def broker(self) -> BrokerClient:
        return paper_broker_at(self.account, self.now)

    def later(self, when: datetime) -> None:
        self.now = when

    def open_at_broker(self, side: str, volume: str, *, magic: int, client_id: str) -> int:
        outcome = self.broker().open_by_hand("XAUUSD", OrderSide(side), D(volume), magic=magic,
                                             comment=client_id)
        assert outcome.state == "filled", outcome.message
        return int(outcome.position_ticket)


def make_env(kind: str) -> Env:
    return MT5Env() if kind == "mt5" else PaperEnv()
