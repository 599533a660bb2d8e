"""Creating a trading account ready to trade: the account, its risk policy (the seed's
defaults), its strategy settings (the ``backtest`` command's defaults) and, for paper, its
paper book (balance, currency, leverage)."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from accounts.models import Broker, TradingAccount, User
from nusatrade.errors import DataError
from trading.models import RiskPolicy, StrategySettings


def account_create(username: str, *, name: str, broker: str = Broker.PAPER,
                   balance: Decimal = Decimal("10000"), currency: str = "USD",
                   leverage: int = 100) -> TradingAccount:
    """A new trading account of ``username`` (DataError on bad input or a taken name)."""
    user = User.objects.filter(username=username).first()
    if user is None:
        raise DataError(f"no user named {username!r}", column="username")
    if broker not in Broker.values:
        raise DataError(f"broker must be one of {', '.join(Broker.values)}", column="broker")
    balance = Decimal(str(balance))
    if not balance.is_finite() or balance < 0:
        raise DataError("balance must be a finite amount >= 0", column="balance")
    if leverage < 1:
        raise DataError("leverage must be at least 1", column="leverage")
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise DataError("currency must be a 3-letter code such as USD", column="currency")
    try:
        with transaction.atomic():
            account = TradingAccount.objects.create(
                owner=user, name=name, broker=broker, currency=currency, leverage=leverage,
                initial_balance=balance.quantize(Decimal("0.01")))
            RiskPolicy.objects.create(account=account)
            StrategySettings.objects.create(account=account)
            if broker == Broker.PAPER:
                _paper_book(account)
    except IntegrityError:
        raise DataError(f"{username} already has an account named {name!r}",
                        column="name") from None
    return account


def _paper_book(account: TradingAccount) -> None:
    try:
        from trading.paper.services import paper_account_ensure
    except ImportError:   # the paper broker's book arrives with the paper branch
        return
    paper_account_ensure(account)
