"""MT5Broker over the simulator: closed bars only, UTC, contract facts, errors with retcodes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from marketdata.calendar import expected_times
from marketdata.resample import resample_bars
from marketdata.synthetic import generate_range
from nusatrade.errors import BrokerError, ConfigurationError, DataError, TemporaryBrokerError
from trading.brokers.mt5 import MT5Broker, rates_to_frame, server_to_utc, utc_to_server
from trading.brokers.mt5sim import MT5Simulator

FEED = generate_range("2024-02-01", "2024-07-01", "H1", seed=8, start_price=2000.0)
PASSWORD = "correct-horse-battery"


def make(when: str = "2024-03-05 10:30", server_timezone: str = "UTC",
         **options) -> tuple[MT5Simulator, MT5Broker]:
    sim = MT5Simulator(server_timezone=server_timezone,
                       accounts={5001: (PASSWORD, "Demo-Server")})
    sim.add_symbol("XAUUSD", FEED)
    sim.set_time(when)
    broker = MT5Broker(sim, "5001", "Demo-Server", lambda: PASSWORD,
                       server_timezone=server_timezone, **options)
    return sim, broker


def test_the_forming_bar_is_never_returned():
    _, broker = make("2024-03-05 10:30")
    bars = broker.latest_closed_bars("XAUUSD", "H1", 3)
    assert bars.index[-1] == pd.Timestamp("2024-03-05 09:00", tz="UTC")
    expected = FEED.loc["2024-03-05 07:00":"2024-03-05 09:00"]
    pd.testing.assert_frame_equal(bars, expected, check_index_type=False)


def test_bars_follow_the_bars_convention():
    _, broker = make()
    bars = broker.latest_closed_bars("XAUUSD", "H1", 50)
    assert len(bars) == 50
    assert list(bars.columns) == ["open", "high", "low", "close", "volume", "spread"]
    assert (bars.dtypes == "float64").all()
    assert bars.index.name == "time" and str(bars.index.tz) == "UTC"


def test_a_gmt2_servers_times_come_back_in_utc_winter_and_summer():
    for when in ("2024-03-05 10:30", "2024-06-04 10:30"):
        _, broker = make(when, server_timezone="NY+7")
        bars = broker.latest_closed_bars("XAUUSD", "H1", 2)
        assert bars.index[-1] == pd.Timestamp(when, tz="UTC").floor("h") - pd.Timedelta(hours=1)
        assert bars["close"].iloc[-1] == FEED.loc[bars.index[-1], "close"]


@pytest.mark.parametrize("timeframe", ["H4", "D1"])
def test_h4_and_d1_from_a_gmt2_server_are_utc_aligned_complete_bins(timeframe):
    _, broker = make("2024-03-07 10:30", server_timezone="NY+7")
    bars = broker.latest_closed_bars("XAUUSD", timeframe, 4)
    expected = resample_bars(FEED.loc[:"2024-03-07 09:00"], timeframe).tail(4)
    pd.testing.assert_frame_equal(bars, expected, check_index_type=False)


def test_a_utc_servers_d1_comes_straight_from_the_terminal():
    sim, broker = make("2024-03-07 10:30")
    bars = broker.latest_closed_bars("XAUUSD", "D1", 2)
    assert list(bars.index.strftime("%m-%d")) == ["03-05", "03-06"]
    assert sim.calls.count("copy_rates_from_pos") == 1


def test_the_weekend_drops_fridays_last_bar_until_monday():
    _, broker = make("2024-03-09 12:00")
    assert broker.latest_closed_bars("XAUUSD", "H1", 1).index[-1] == pd.Timestamp(
        "2024-03-08 20:00", tz="UTC")


def test_bars_still_open_by_our_clock_are_dropped_too():
    # The terminal's clock runs an hour ahead of ours: its bar 1 has not closed for us.
    _, broker = make("2024-03-05 10:30",
                     clock=lambda: datetime(2024, 3, 5, 9, 30, tzinfo=UTC))
    assert broker.latest_closed_bars("XAUUSD", "H1", 3).index[-1] == pd.Timestamp(
        "2024-03-05 08:00", tz="UTC")


def test_symbol_info_gives_exact_decimals():
    _, broker = make()
    spec = broker.symbol_info("XAUUSD")
    assert (spec.digits, spec.point, spec.contract_size) == (2, Decimal("0.01"), Decimal("100.0"))
    assert spec.volume_step == Decimal("0.01") and spec.tick_value == Decimal("1.0")


def test_connects_once_with_the_login_and_shuts_down_on_close():
    sim, broker = make()
    broker.latest_closed_bars("XAUUSD", "H1", 2)
    broker.symbol_info("XAUUSD")
    assert sim.calls.count("initialize") == 1
    broker.close()
    assert sim.calls[-1] == "shutdown"


def test_an_ipc_timeout_is_temporary_and_reconnects_next_time():
    sim, broker = make()
    broker.latest_closed_bars("XAUUSD", "H1", 2)
    sim.fail_next("copy_rates_from_pos", sim.RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
    with pytest.raises(TemporaryBrokerError) as caught:
        broker.latest_closed_bars("XAUUSD", "H1", 2)
    assert caught.value.retcode == -10005
    assert len(broker.latest_closed_bars("XAUUSD", "H1", 2)) == 2
    assert sim.calls.count("initialize") == 2


def test_an_unknown_symbol_is_a_permanent_error():
    _, broker = make()
    with pytest.raises(BrokerError) as caught:
        broker.latest_closed_bars("NOPE", "H1", 2)
    assert not isinstance(caught.value, TemporaryBrokerError)
    assert caught.value.retcode == -4


def test_a_wrong_password_fails_without_showing_it():
    sim = MT5Simulator(accounts={5001: (PASSWORD, "Demo-Server")})
    broker = MT5Broker(sim, 5001, "Demo-Server", lambda: "not-the-password")
    with pytest.raises(BrokerError) as caught:
        broker.latest_closed_bars("XAUUSD", "H1", 2)
    assert caught.value.retcode == -6
    assert "not-the-password" not in str(caught.value) and "not-the-password" not in repr(broker)


def test_a_missing_password_or_bad_login_is_a_configuration_error():
    sim = MT5Simulator()
    with pytest.raises(ConfigurationError, match="password"):
        MT5Broker(sim, 5001, "Demo", lambda: None).latest_closed_bars("XAUUSD", "H1", 1)
    with pytest.raises(ConfigurationError, match="numeric"):
        MT5Broker(sim, "abc", "Demo", lambda: PASSWORD)
    with pytest.raises(ConfigurationError, match="time zone"):
        MT5Broker(sim, 1, "Demo", lambda: PASSWORD, server_timezone="Mars/Olympus")


def test_count_must_be_sane():
    _, broker = make()
    for count in (0, -1, 100_001, 2.5):
        with pytest.raises(ValueError, match="count"):
            broker.latest_closed_bars("XAUUSD", "H1", count)


def test_bars_off_the_utc_grid_mean_a_wrong_server_time_zone():
    sim = MT5Simulator(server_timezone="Asia/Kolkata")  # UTC+5:30
    sim.add_symbol("XAUUSD", FEED)
    sim.set_time("2024-03-05 10:30")
    broker = MT5Broker(sim, 1, "Demo", lambda: PASSWORD, server_timezone="UTC")
    with pytest.raises(DataError, match="MT5_SERVER_TIMEZONE"):
        broker.latest_closed_bars("XAUUSD", "H1", 3)


def test_server_time_conversions_round_trip_over_a_trading_year():
    # Daylight-saving switches happen on Sunday mornings: the market is closed then.
    index = expected_times("2024-01-01", "2025-01-01", "H1")
    for zone in ("UTC", "NY+7", "Europe/Athens"):
        assert (server_to_utc(utc_to_server(index, zone), zone) == index).all()


def test_a_server_time_repeated_by_a_dst_switch_is_refused():
    # 2024-11-03 01:30 in New York happened twice; at NY+7 that is 08:30 server time.
    repeated = utc_to_server(pd.DatetimeIndex(["2024-11-03 05:30"], tz="UTC"), "NY+7")
    with pytest.raises(DataError, match="daylight-saving"):
        server_to_utc(repeated, "NY+7")


def test_rates_to_frame_of_nothing_is_an_empty_bars_frame():
    empty = rates_to_frame(np.zeros(0, dtype=[("time", "<i8")]))
    assert empty.empty and list(empty.columns) == ["open", "high", "low", "close", "volume",
                                                   "spread"]
