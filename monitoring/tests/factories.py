"""Rows for the monitoring tests, created through the ORM (no broker involved)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from accounts.models import Role, TradingAccount
from accounts.services import trading_account_create, user_create
from mlops.models import MLModel, ModelStatus
from trading.models import Instrument, Position, PositionStatus, Side, Signal

PASSWORD = "correct-horse-battery-staple-42"


def account(name: str = "main", owner: str = "trader1", **fields: Any) -> TradingAccount:
    from accounts.models import User

    user = (User.objects.filter(username=owner).first()
            or user_create(owner, PASSWORD, roles=(Role.TRADER,)))
    return trading_account_create(user, name, **fields)


def model(name: str = "rf", *, status: str = ModelStatus.ACTIVE, timeframe: str = "H1",
          metrics: dict[str, Any] | None = None, **fields: Any) -> MLModel:
    """A registry row without an artifact (the tracker never loads one; drift does)."""
    version = MLModel.objects.filter(name=name).count() + 1
    return MLModel.objects.create(
        name=name, version=version, algorithm="random_forest", params={},
        feature_set_id="fs", feature_names=["f1"], timeframe=timeframe,
        instrument=Instrument.objects.get(symbol="XAUUSD"), label_spec={}, threshold=0.6,
        data_start=datetime.fromisoformat("2025-01-01T00:00+00:00"),
        data_end=datetime.fromisoformat("2025-06-30T00:00+00:00"),
        metrics=metrics or {}, artifact_path="none", artifact_sha256="0" * 64, status=status,
        **fields)


def closed(acct: TradingAccount, mdl: MLModel | None, entry: datetime, exit_: datetime,
           net: str, side: str = Side.BUY) -> Position:
    return Position.objects.create(
        account=acct, model=mdl, symbol="XAUUSD", side=side, volume=Decimal("0.01"),
        status=PositionStatus.CLOSED, entry_price=Decimal("2350"), entry_time=entry,
        exit_price=Decimal("2351"), exit_time=exit_, exit_reason="closed",
        gross_pnl=Decimal(net), net_pnl=Decimal(net))


def opened(acct: TradingAccount, mdl: MLModel | None, entry: datetime,
           volume: str = "0.01") -> Position:
    return Position.objects.create(
        account=acct, model=mdl, symbol="XAUUSD", side=Side.BUY, volume=Decimal(volume),
        entry_price=Decimal("2350"), entry_time=entry)


def signal(acct: TradingAccount, mdl: MLModel, bar_time: datetime, decision: str,
           confidence: float | None = None) -> Signal:
    probabilities = {decision: confidence} if confidence is not None else {}
    return Signal.objects.create(account=acct, model=mdl, symbol="XAUUSD", timeframe="H1",
                                 bar_time=bar_time, decision=decision,
                                 probabilities=probabilities)


def otp_client(username: str, roles: tuple[Role, ...], staff: bool = True,
               superuser: bool = False) -> Any:
    """A test client logged in through the real admin login: password + a valid TOTP."""
    from django.test import Client
    from django_otp.oath import TOTP

    from accounts.services import totp_device_create

    user = user_create(username, PASSWORD, roles=roles, staff=staff, superuser=superuser)
    device = totp_device_create(user).device
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    client = Client()
    client.post("/admin/login/?next=/admin/", {
        "username": username, "password": PASSWORD, "otp_device": device.persistent_id,
        "otp_token": f"{totp.token():0{device.digits}d}"})
    return client


def retraining_run(champion: MLModel, challenger: MLModel, decision: str = "awaiting_approval",
                   request: Any = None) -> Any:
    """A champion/challenger run row with its two (succeeded) backtest rows."""
    from datetime import UTC, date

    from backtests.models import BacktestRun, RunStatus
    from monitoring.models import RetrainingRun

    def backtest(model: MLModel) -> BacktestRun:
        return BacktestRun.objects.create(
            model=model, start=date(2026, 1, 1), end=date(2026, 1, 31),
            spread_pips=Decimal("3"), slippage_pips=Decimal("1"), lots=Decimal("0.01"),
            threshold=0.6, initial_equity=Decimal("10000"), status=RunStatus.SUCCEEDED,
            finished_at=datetime(2026, 2, 1, tzinfo=UTC), metrics={"return_pct": 1.0})

    return RetrainingRun.objects.create(
        champion=champion, challenger=challenger, request=request,
        window_start=date(2026, 1, 1), window_end=date(2026, 1, 31),
        champion_backtest=backtest(champion), challenger_backtest=backtest(challenger),
        comparison={"better": True}, decision=decision, detail="better by the margin")
