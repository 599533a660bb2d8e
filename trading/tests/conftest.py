from __future__ import annotations

import pytest

from accounts.models import TradingAccount, User
from trading.models import RiskPolicy
from trading.tests.fakes import FakeBroker


def make_account(username: str = "trader", name: str = "paper 1", **policy) -> TradingAccount:
    user, _ = User.objects.get_or_create(username=username)
    account = TradingAccount.objects.create(owner=user, name=name)
    RiskPolicy.objects.create(account=account, **policy)
    return account


@pytest.fixture
def account(db) -> TradingAccount:
    return make_account()


@pytest.fixture
def fake() -> FakeBroker:
    return FakeBroker()
