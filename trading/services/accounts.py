"""Creating a trading account ready to trade: the account, its risk policy (the seed's
defaults), its strategy settings (the ``backtest`` command's defaults) and, for paper, its
paper book (balance, currency, leverage)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Broker, TradingAccount, User, env_var_name
from nusatrade.errors import DataError
from trading.models import RiskPolicy, StrategySettings


def account_create(username: str, *, name: str, broker: str = Broker.PAPER,
                   balance: Decimal = Decimal("10000"), currency: str = "USD",
                   leverage: int = 100, login: str = "", server: str = "",
                   password_env_var: str = "") -> TradingAccount:
    """A new trading account of ``username`` (DataError on bad input or a taken name).

    ``login``/``server``/``password_env_var``: an MT5 account's number, its broker's server
    and the NAME of the environment variable holding its password (never the password)."""
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
    _validate_connection(broker, login, server, password_env_var)
    try:
        with transaction.atomic():
            account = TradingAccount(
                owner=user, name=name, broker=broker, currency=currency, leverage=leverage,
                initial_balance=balance.quantize(Decimal("0.01")), broker_login=login.strip(),
                broker_server=server.strip(), password_env_var=password_env_var.strip())
            account.save()
            RiskPolicy.objects.create(account=account)
            StrategySettings.objects.create(account=account)
            if broker == Broker.PAPER:
                _paper_book(account)
    except IntegrityError:
        taken = (f"{username} already has an account named {name!r}" if TradingAccount.objects
                 .filter(owner=user, name=name).exists() else
                 f"mt5 login {login} on {server} is already another account's")
        raise DataError(taken, column="name") from None
    return account


def _validate_connection(broker: str, login: str, server: str, password_env_var: str) -> None:
    if broker != Broker.MT5:
        if login or server or password_env_var:
            raise DataError("--login/--server/--password-env-var are for --broker mt5",
                            column="broker")
        return
    if not password_env_var.strip():
        return
    try:
        env_var_name(password_env_var.strip())
    except ValidationError:
        raise DataError("--password-env-var is the NAME of an environment variable holding the "
                        "password (e.g. MT5_DEMO_PASSWORD), never the password itself",
                        column="password_env_var") from None


def _paper_book(account: TradingAccount) -> None:
    try:
        from trading.paper.services import paper_account_ensure
    except ImportError:   # the paper broker's book arrives with the paper branch
        return
    paper_account_ensure(account)
