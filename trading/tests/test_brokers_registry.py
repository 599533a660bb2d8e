"""broker_for: paper by default, MT5 only when the account and the deployment say so."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pandas as pd
import pytest

from accounts.models import Broker, TradingAccount, User
from marketdata.services import bars_upsert
from marketdata.synthetic import generate_range
from nusatrade.errors import ConfigurationError
from tests.helpers import ROOT, clean_env
from trading.brokers import broker_for, stored_history
from trading.brokers.mt5 import MT5Broker
from trading.brokers.mt5sim import MT5Simulator
from trading.brokers.paper import PaperBroker

# The module named by MT5_MODULE in one test: "trading.tests.test_brokers_registry:TERMINAL".
TERMINAL = MT5Simulator()
TERMINAL.add_symbol("XAUUSD", generate_range("2024-03-01", "2024-03-08", "H1", seed=1,
                                             start_price=2000.0))
TERMINAL.set_time("2024-03-06 12:15")


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user("owner", password="a-long-password-1")


def mt5_account(owner: User, **fields) -> TradingAccount:
    values = {"broker_login": "9001", "broker_server": "Demo", "password_env_var": "MT5_PW_X"}
    values.update(fields)
    return TradingAccount.objects.create(owner=owner, name="mt5", broker=Broker.MT5, **values)


def test_a_new_account_gets_the_paper_broker_with_instrument_specs(owner):
    account = TradingAccount.objects.create(owner=owner, name="default")
    broker = broker_for(account)
    assert isinstance(broker, PaperBroker) and broker.synthetic
    spec = broker.symbol_info("XAUUSD")
    assert (spec.digits, spec.point, spec.contract_size) == (2, Decimal("0.01"), Decimal("100"))
    assert broker.symbol_info("EURUSD").digits == 5


def test_paper_history_comes_from_stored_bars(owner):
    stored = generate_range("2024-03-04", "2024-03-08", "H1", seed=2, start_price=2000.0)
    bars_upsert("XAUUSD", "H1", stored, synthetic=True)
    until = pd.Timestamp("2024-03-06 10:00", tz="UTC")
    history = stored_history("XAUUSD", "H1", until, 5)
    assert history.index[-1] == until
    pd.testing.assert_frame_equal(history, stored.loc[:until].tail(len(history)),
                                  check_index_type=False)
    account = TradingAccount.objects.create(owner=owner, name="paper")
    clock = pd.Timestamp("2024-03-06 11:20", tz="UTC").to_pydatetime()
    bars = broker_for(account, clock=lambda: clock).latest_closed_bars("XAUUSD", "H1", 3)
    pd.testing.assert_frame_equal(bars, stored.loc["2024-03-06 08:00":"2024-03-06 10:00"],
                                  check_index_type=False)


def test_stored_history_of_an_empty_series_is_empty(db):
    assert stored_history("XAUUSD", "M15", pd.Timestamp("2024-03-06", tz="UTC"), 5).empty


def test_mt5_is_refused_when_the_deployment_has_not_enabled_it(owner, settings):
    settings.MT5_ENABLED = False
    with pytest.raises(ConfigurationError, match="MT5_ENABLED"):
        broker_for(mt5_account(owner))


def test_mt5_needs_login_server_and_password_variable(owner, settings):
    settings.MT5_ENABLED = True
    with pytest.raises(ConfigurationError, match="password_env_var"):
        broker_for(mt5_account(owner, password_env_var=""), mt5_module=MT5Simulator())


def test_an_unimportable_mt5_module_is_a_configuration_error(owner, settings):
    settings.MT5_ENABLED = True
    settings.MT5_MODULE = "nusatrade_no_such_mt5_package"
    with pytest.raises(ConfigurationError, match="cannot be imported"):
        broker_for(mt5_account(owner))


def test_mt5_module_setting_can_name_an_object(owner, settings, monkeypatch):
    settings.MT5_ENABLED = True
    settings.MT5_MODULE = "trading.tests.test_brokers_registry:TERMINAL"
    monkeypatch.setenv("MT5_PW_X", "pw")
    broker = broker_for(mt5_account(owner))
    assert isinstance(broker, MT5Broker) and not broker.synthetic
    bars = broker.latest_closed_bars("XAUUSD", "H1", 2)
    assert bars.index[-1] == pd.Timestamp("2024-03-06 11:00", tz="UTC")
    broker.close()


def test_mt5_settings_reach_the_broker(owner, settings, monkeypatch):
    settings.MT5_ENABLED = True
    settings.MT5_SERVER_TIMEZONE = "NY+7"
    monkeypatch.setenv("MT5_PW_X", "pw")
    terminal = MT5Simulator(server_timezone="NY+7")
    terminal.add_symbol("XAUUSD", generate_range("2024-03-01", "2024-03-08", "H1", seed=1,
                                                 start_price=2000.0))
    terminal.set_time("2024-03-06 12:15")
    bars = broker_for(mt5_account(owner), mt5_module=terminal).latest_closed_bars(
        "XAUUSD", "H1", 2)
    assert bars.index[-1] == pd.Timestamp("2024-03-06 11:00", tz="UTC")


def test_an_unknown_broker_kind_is_a_configuration_error(owner):
    account = TradingAccount.objects.create(owner=owner, name="odd")
    account.broker = "ib"
    with pytest.raises(ConfigurationError, match="unknown broker"):
        broker_for(account)


def test_broker_modules_import_neither_django_nor_metatrader5():
    modules = ["trading.brokers.base", "trading.brokers.paper", "trading.brokers.mt5",
               "trading.brokers.mt5sim", "trading.brokers"]
    code = (f"import sys; import {', '.join(modules)}; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'MetaTrader5'));"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MetaTrader5" not in sys.modules
