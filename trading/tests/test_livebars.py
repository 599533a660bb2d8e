"""Live bars: the fetch_bars task, its service and command. The forming bar is never stored."""

from __future__ import annotations

from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from accounts.models import Broker, TradingAccount, User
from marketdata.models import Bar
from marketdata.selectors import load_bars
from marketdata.services import bars_upsert
from marketdata.synthetic import generate_range
from nusatrade.errors import BrokerError, ConfigurationError, DataError
from trading.brokers.base import BrokerClient
from trading.brokers.mt5sim import MT5Simulator
from trading.brokers.paper import PaperBroker
from trading.livebars import bars_fetch_live
from trading.tasks import fetch_bars

pytestmark = pytest.mark.django_db
FEED = generate_range("2024-02-01", "2024-04-01", "H1", seed=4, start_price=2000.0)
PASSWORD = "mt5-demo-password-123"


def at(stamp: str):
    moment = pd.Timestamp(stamp, tz="UTC").to_pydatetime()
    return lambda: moment


@pytest.fixture
def owner() -> User:
    return User.objects.create_user("trader", password="a-long-password-1")


@pytest.fixture
def paper_account(owner) -> TradingAccount:
    return TradingAccount.objects.create(owner=owner, name="paper")


@pytest.fixture
def simulator(monkeypatch, settings) -> MT5Simulator:
    """An MT5 deployment whose terminal is the simulator, its clock inside the 10:00 bar."""
    sim = MT5Simulator(accounts={7001: (PASSWORD, "Demo-Server")})
    sim.add_symbol("XAUUSD", FEED)
    sim.set_time("2024-03-05 10:30")
    settings.MT5_ENABLED = True
    monkeypatch.setattr("trading.brokers.load_mt5_module", lambda: sim)
    monkeypatch.setenv("MT5_PASSWORD_TEST", PASSWORD)
    return sim


@pytest.fixture
def mt5_account(owner) -> TradingAccount:
    return TradingAccount.objects.create(
        owner=owner, name="live", broker=Broker.MT5, broker_login="7001",
        broker_server="Demo-Server", password_env_var="MT5_PASSWORD_TEST")


def stored_times(timeframe: str = "H1") -> list[pd.Timestamp]:
    return list(load_bars("XAUUSD", timeframe).index)


def test_the_task_stores_closed_mt5_bars_but_never_the_forming_one(simulator, mt5_account):
    result = fetch_bars.apply(args=(mt5_account.pk, "XAUUSD", "H1", 5)).get()
    times = stored_times()
    assert times[-1] == pd.Timestamp("2024-03-05 09:00", tz="UTC")
    assert pd.Timestamp("2024-03-05 10:00", tz="UTC") not in times
    pd.testing.assert_frame_equal(load_bars("XAUUSD", "H1"), FEED.loc[times],
                                  check_index_type=False)
    assert not Bar.objects.filter(synthetic=True).exists()
    assert result["inserted"] == 5 and result["broker"] == "mt5" and not result["synthetic"]
    assert result["last"] == "2024-03-05T09:00:00+00:00"


def test_rerunning_the_task_stores_nothing_twice(simulator, mt5_account):
    fetch_bars.apply(args=(mt5_account.pk, "XAUUSD", "H1", 5)).get()
    simulator.set_time("2024-03-05 11:59")
    result = fetch_bars.apply(args=(mt5_account.pk, "XAUUSD", "H1", 5)).get()
    assert (result["inserted"], result["unchanged"], result["conflicts"]) == (1, 4, 0)
    assert Bar.objects.count() == 6
    assert stored_times()[-1] == pd.Timestamp("2024-03-05 10:00", tz="UTC")


def test_a_temporary_broker_failure_is_retried(simulator, mt5_account):
    simulator.fail_next("copy_rates_from_pos", simulator.RES_E_INTERNAL_FAIL_TIMEOUT,
                        "IPC timeout")
    # Eager apply without propagation runs the retry at once (no countdown).
    result = fetch_bars.apply(args=(mt5_account.pk, "XAUUSD", "H1", 3), throw=False).get()
    assert result["inserted"] == 3
    assert simulator.calls.count("copy_rates_from_pos") == 2
    assert simulator.calls.count("initialize") == 2  # each attempt connects afresh


def test_a_permanent_broker_failure_is_not_retried(simulator, mt5_account):
    simulator.fail_next("copy_rates_from_pos", simulator.RES_E_INVALID_PARAMS, "Invalid params")
    with pytest.raises(BrokerError) as caught:
        fetch_bars.apply(args=(mt5_account.pk, "XAUUSD", "H1", 3)).get()
    assert caught.value.retcode == -2
    assert simulator.calls.count("copy_rates_from_pos") == 1
    assert not Bar.objects.exists()


def test_the_task_acknowledges_late_and_rejects_on_worker_loss():
    assert fetch_bars.acks_late is True and fetch_bars.reject_on_worker_lost is True
    assert fetch_bars.name == "marketdata.fetch_bars"


def test_paper_bars_are_stored_synthetic_and_closed(paper_account):
    bars_upsert("XAUUSD", "H1", FEED.loc[:"2024-03-01 12:00"], synthetic=True)
    result = bars_fetch_live(paper_account, "XAUUSD", "H1", 30, clock=at("2024-03-05 10:30"))
    assert result.synthetic and result.broker == "paper"
    assert stored_times()[-1] == pd.Timestamp("2024-03-05 09:00", tz="UTC")
    assert not Bar.objects.filter(synthetic=False).exists()
    assert result.summary().startswith("XAUUSD H1 from paper (SYNTHETIC paper feed)")


def test_paper_feed_never_extends_a_series_of_real_bars(paper_account):
    bars_upsert("XAUUSD", "H1", FEED.loc[:"2024-03-01 12:00"], synthetic=False)
    before = Bar.objects.count()
    with pytest.raises(DataError, match="holds real"):
        bars_fetch_live(paper_account, "XAUUSD", "H1", 30, clock=at("2024-03-05 10:30"))
    assert Bar.objects.count() == before
    assert not Bar.objects.filter(synthetic=True).exists()


def test_paper_fetches_repeat_without_conflicts(paper_account):
    bars_upsert("XAUUSD", "H1", FEED.loc[:"2024-03-01 12:00"], synthetic=True)
    bars_fetch_live(paper_account, "XAUUSD", "H1", 10, clock=at("2024-03-05 10:30"))
    second = bars_fetch_live(paper_account, "XAUUSD", "H1", 50, clock=at("2024-03-05 14:10"))
    assert second.conflicts == 0 and second.inserted == 4
    assert stored_times()[-1] == pd.Timestamp("2024-03-05 13:00", tz="UTC")


class ForgetfulBroker(BrokerClient):
    """A broken broker that returns the bar still forming (a data-only fake: every trading
    call is refused, as a broker without trading rights would)."""

    name = "forgetful"

    def latest_closed_bars(self, symbol, timeframe, count):
        return FEED.loc["2024-03-05 08:00":"2024-03-05 10:00"]

    def _no_trading(self, *args, **kwargs):
        raise BrokerError("forgetful broker: market data only")

    symbol_info = account_info = tick = positions = place_market_order = _no_trading
    modify_position = close_position = deals = history_orders = _no_trading


def test_a_forming_bar_from_a_broken_broker_is_refused_before_storing(paper_account):
    with pytest.raises(DataError, match="still forming"):
        bars_fetch_live(paper_account, "XAUUSD", "H1", 3, broker=ForgetfulBroker(),
                        clock=at("2024-03-05 10:30"))
    assert not Bar.objects.exists()


def test_an_injected_broker_is_left_open_for_its_owner(paper_account):
    class Counting(PaperBroker):
        closed = 0

        def close(self):
            Counting.closed += 1

    client = Counting({}, clock=at("2024-03-05 10:30"))
    with pytest.raises(BrokerError):
        bars_fetch_live(paper_account, "XAUUSD", "H1", 3, broker=client)
    assert Counting.closed == 0


def test_mt5_account_on_a_deployment_without_mt5_is_a_configuration_error(mt5_account, settings):
    settings.MT5_ENABLED = False
    with pytest.raises(ConfigurationError, match="MT5_ENABLED"):
        bars_fetch_live(mt5_account, "XAUUSD", "H1", 3)


def test_the_command_prints_one_line(simulator, mt5_account):
    out = StringIO()
    call_command("fetch_bars", "--account", str(mt5_account.pk), "--symbol", "XAUUSD",
                 "--timeframe", "H1", "--count", "4", stdout=out)
    line = out.getvalue().strip()
    assert line == (f"XAUUSD H1 from mt5 (broker feed), account {mt5_account.pk}: 4 closed bars "
                    "2024-03-05 06:00..2024-03-05 09:00 UTC: inserted 4, unchanged 0, "
                    "conflicts 0")


def test_the_command_refuses_an_unknown_account_or_symbol(paper_account):
    with pytest.raises(CommandError, match="no trading account"):
        call_command("fetch_bars", "--account", "999999", stdout=StringIO())
    with pytest.raises(CommandError, match="unknown symbol"):
        call_command("fetch_bars", "--account", str(paper_account.pk), "--symbol", "NOPE",
                     stdout=StringIO())
