"""Users, accounts and rows for the trader API tests: traders A and B, ops and admin, each
trader with a paper account holding positions, orders and signals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rest_framework.test import APIClient

from accounts.models import Role, TradingAccount, User
from accounts.services import user_create
from accounts.tokens import VersionedRefreshToken
from mlops.models import MLModel
from trading.models import Instrument, Order, OrderStatus, Position, PositionStatus, Signal
from trading.services import account_create

PASSWORD = "correct-horse-battery-staple-42"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday


def client_for(user: User | None) -> APIClient:
    """An API client with a fresh access token of ``user`` (None: anonymous). Tokens are
    minted directly: the login endpoint's rate limit is not what these tests are about."""
    client = APIClient()
    if user is not None:
        token = VersionedRefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def make_user(name: str, role: Role | None) -> User:
    return user_create(name, PASSWORD, roles=(role,) if role else ())


def ml_model(name: str = "rf", version: int = 1, **fields) -> MLModel:
    return MLModel.objects.create(
        name=name, version=version, algorithm="random_forest", feature_set_id="fs",
        instrument=Instrument.objects.get(symbol="XAUUSD"), timeframe="H1",
        data_start=T0 - timedelta(days=400), data_end=T0 - timedelta(days=30),
        artifact_path="none.skops", artifact_sha256="0" * 64, **fields)


def position(account: TradingAccount, i: int, *, model: MLModel | None = None,
             closed: bool = True, side: str = "BUY") -> Position:
    entry = T0 + timedelta(hours=i)
    net = Decimal("12.50") if i % 2 else Decimal("-5.00")
    fields = dict(status=PositionStatus.CLOSED, exit_time=entry + timedelta(minutes=30),
                  exit_price=Decimal("2351.00"), exit_reason="take_profit",
                  gross_pnl=net, net_pnl=net) if closed else {}
    return Position.objects.create(account=account, model=model, symbol="XAUUSD", side=side,
                                   volume=Decimal("0.10"), entry_price=Decimal("2350.00"),
                                   entry_time=entry, broker_ticket=1000 + i, **fields)


def order(account: TradingAccount, i: int, *, model: MLModel | None = None,
          status: str = OrderStatus.FILLED, retcode: int | None = 10009) -> Order:
    return Order.objects.create(
        account=account, model=model, idempotency_key=f"acct:{account.pk}|client:o{i}",
        client_id=f"c{account.pk}x{i}", magic=1, symbol="XAUUSD", side="BUY",
        volume=Decimal("0.10"), status=status, retcode=retcode, attempts=1,
        filled_volume=Decimal("0.10"), fill_price=Decimal("2350.00"))


def signal(account: TradingAccount, i: int, *, model: MLModel | None = None,
           decision: str = "HOLD") -> Signal:
    return Signal.objects.create(
        account=account, model=model, symbol="XAUUSD", timeframe="H1",
        bar_time=T0 + timedelta(hours=i), decision=decision,
        probabilities={"BUY": 0.4, "SELL": 0.3, "HOLD": 0.3},
        reason="probability below threshold 0.60" if decision == "HOLD" else "")


@dataclass
class World:
    alice: User
    bob: User
    ops: User
    boss: User
    account_a: TradingAccount
    account_b: TradingAccount
    model: MLModel

    def rows_of(self, account: TradingAccount) -> dict[str, int]:
        """One detail id per route for ``account``."""
        return {"positions": account.positions.first().pk,
                "orders": account.orders.first().pk,
                "signals": account.signals.first().pk,
                "accounts": account.pk}


def world(rows: int = 2) -> World:
    alice, bob = make_user("alice", Role.TRADER), make_user("bob", Role.TRADER)
    ops, boss = make_user("olga", Role.OPS), make_user("boss", Role.ADMIN)
    account_a = account_create("alice", name="alice paper")
    account_b = account_create("bob", name="bob paper")
    model = ml_model()
    for account in (account_a, account_b):
        for i in range(rows):
            position(account, i, model=model, closed=i != rows - 1)
            order(account, i, model=model)
            signal(account, i, model=model, decision=("HOLD", "BUY", "SELL")[i % 3])
    return World(alice, bob, ops, boss, account_a, account_b, model)


def snapshot(account: TradingAccount | None, model: MLModel | None = None, day: int = 1):
    """A tracker snapshot of ``account`` (and ``model``; no account: model-wide)."""
    from monitoring.models import PerformanceSnapshot

    key = "/".join(part for part in (account and f"account:{account.pk}",
                                     model and f"model:{model.pk}") if part)
    return PerformanceSnapshot.objects.create(
        date=T0.date().replace(day=day), scope_key=key, account=account, model=model,
        trades=4, net_pnl=Decimal("15.00"), win_rate=0.5, profit_factor=1.6,
        figures={"all": {"trades": 4}, "30d": {"trades": 2}},
        versus_backtest={"win_rate": {"live": 0.5, "backtest": 0.55}})
