"""create_account, place_order and positions commands (paper broker, real database)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import TradingAccount, User
from trading import brokers
from trading.models import Order, Position, RiskPolicy
from trading.services import orders
from trading.tests.orderpaths import AT, store_bars

pytestmark = [pytest.mark.django_db, pytest.mark.services("postgres")]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _paper_clock_on_a_weekday(monkeypatch):
    """The paper broker's market must be open whatever day the suite runs."""
    monkeypatch.setattr(orders, "broker_for",
                        lambda account: brokers.broker_for(account, clock=lambda: AT))


@pytest.fixture
def account_id() -> int:
    store_bars()
    User.objects.create(username="ops1")
    return int(run("create_account", "ops1", "--name", "drill", "--broker", "paper",
                   "--balance", "10000", "--currency", "usd", "--leverage", "100").strip())


def test_create_account_prints_the_id_and_sets_the_default_policy(account_id):
    account = TradingAccount.objects.get(pk=account_id)
    assert (account.broker, account.currency, account.leverage) == ("paper", "USD", 100)
    assert str(account.initial_balance) == "10000.00"
    policy = RiskPolicy.objects.get(account=account)
    config = policy.to_config()
    assert (str(policy.lots), config.max_trades_per_day, config.one_position_per_symbol,
            config.daily_loss_stop_pct, config.max_consecutive_losses, config.min_profit_factor,
            config.min_win_rate, config.max_drawdown_pct) == (
        "0.0100", 2, True, 5.0, 5, 1.0, 0.35, 15.0)


def test_create_account_refuses_unknown_user_and_duplicate_name(account_id):
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        run("create_account", "ghost", "--name", "x")
    with pytest.raises(CommandError, match="already has an account named"):
        run("create_account", "ops1", "--name", "drill")


def test_create_account_mt5_records_the_connection_never_a_password(account_id):
    account = TradingAccount.objects.get(pk=int(run(
        "create_account", "ops1", "--name", "mt5 demo", "--broker", "mt5", "--login",
        "51234567", "--server", "ICMarketsSC-Demo", "--password-env-var",
        "MT5_DEMO_PASSWORD").strip()))
    assert (account.broker, account.broker_login, account.broker_server,
            account.password_env_var) == ("mt5", "51234567", "ICMarketsSC-Demo",
                                          "MT5_DEMO_PASSWORD")
    assert RiskPolicy.objects.filter(account=account).exists()
    with pytest.raises(CommandError, match="NAME of an environment variable"):
        run("create_account", "ops1", "--name", "x", "--broker", "mt5",
            "--password-env-var", "hunter2!")
    with pytest.raises(CommandError, match="are for --broker mt5"):
        run("create_account", "ops1", "--name", "y", "--login", "1")
    with pytest.raises(CommandError, match="already another account's"):
        run("create_account", "ops1", "--name", "z", "--broker", "mt5", "--login",
            "51234567", "--server", "ICMarketsSC-Demo")


def test_place_order_repeated_client_order_id_is_one_order(account_id):
    args = ("place_order", "--account", str(account_id), "--symbol", "XAUUSD", "--side", "BUY",
            "--volume", "0.01", "--reason", "drill", "--client-order-id", "ops-1")
    first = run(*args)
    second = run(*args)
    order = Order.objects.get()
    assert f"order {order.pk} filled" in first and "existing order" in second
    assert order.reason == "drill" and Position.objects.count() == 1
    rows = json.loads(run("positions", "--account", str(account_id), "--json"))
    assert [r["id"] for r in rows] == [Position.objects.get().pk]
    assert "1 position(s)" in run("positions", "--account", str(account_id), "--all")


def test_place_order_refusal_exits_non_zero_with_the_reason(account_id):
    with pytest.raises(CommandError, match="volume: must be greater than zero"):
        run("place_order", "--account", str(account_id), "--symbol", "XAUUSD", "--side",
            "BUY", "--volume", "0", "--reason", "drill")
    assert Order.objects.get().status == "rejected"


def test_positions_of_an_unknown_account_fails_clearly(db):
    with pytest.raises(CommandError, match="no trading account 999"):
        run("positions", "--account", "999")
