"""The MetaTrader5 simulator answers like the real module: shapes, positions, errors, time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from marketdata import timeframes
from marketdata.resample import resample_bars
from marketdata.synthetic import generate_range
from trading.brokers import mt5sim
from trading.brokers.mt5sim import RATES_DTYPE, SYMBOL_INFO_FIELDS, MT5Simulator

FEED = generate_range("2024-02-01", "2024-07-01", "H1", seed=5, start_price=2000.0)
TUESDAY_1030 = "2024-03-05 10:30"


def simulator(when: str = TUESDAY_1030, **options) -> MT5Simulator:
    sim = MT5Simulator(**options)
    sim.add_symbol("XAUUSD", FEED)
    sim.set_time(when)
    assert sim.initialize()
    assert sim.symbol_select("XAUUSD", True)
    return sim


def seconds(stamp: str) -> int:
    return int(pd.Timestamp(stamp, tz="UTC").timestamp())


def test_constants_have_metatrader5s_values():
    assert MT5Simulator.TIMEFRAME_M1 == 1 and MT5Simulator.TIMEFRAME_M30 == 30
    assert MT5Simulator.TIMEFRAME_H1 == 16385 and MT5Simulator.TIMEFRAME_H4 == 16388
    assert MT5Simulator.TIMEFRAME_D1 == 16408 and MT5Simulator.TIMEFRAME_W1 == 32769
    assert MT5Simulator.TIMEFRAME_MN1 == 49153
    for tf in timeframes.TIMEFRAMES.values():
        assert getattr(MT5Simulator, f"TIMEFRAME_{tf.name}") == tf.mt5_value
    assert MT5Simulator.RES_S_OK == 1 and MT5Simulator.RES_E_NOT_FOUND == -4
    assert MT5Simulator.RES_E_INTERNAL_FAIL_TIMEOUT == -10005


def test_calls_before_initialize_fail_with_no_ipc_connection():
    sim = MT5Simulator()
    sim.add_symbol("XAUUSD", FEED)
    assert sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 10) is None
    assert sim.last_error() == (-10004, "No IPC connection")
    assert sim.symbol_info("XAUUSD") is None


def test_rates_have_the_real_dtype_oldest_first():
    rates = simulator().copy_rates_from_pos("XAUUSD", MT5Simulator.TIMEFRAME_H1, 0, 5)
    assert rates.dtype == RATES_DTYPE
    assert rates.dtype.names == ("time", "open", "high", "low", "close", "tick_volume",
                                 "spread", "real_volume")
    assert list(np.diff(rates["time"])) == [3600] * 4


def test_position_0_is_the_current_bar_still_forming():
    sim = simulator()
    rates = sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 3)
    assert rates["time"][-1] == seconds("2024-03-05 10:00")
    final = FEED.loc["2024-03-05 10:00"]
    assert rates["open"][-1] == final["open"]
    assert rates["close"][-1] != final["close"]  # half-way through, not the final close
    assert rates["high"][-1] <= final["high"] and rates["low"][-1] >= final["low"]
    assert rates["tick_volume"][-1] < final["volume"]
    closed = FEED.loc["2024-03-05 08:00":"2024-03-05 09:00"]
    assert rates["close"][:2].tolist() == closed["close"].tolist()
    assert rates["tick_volume"][:2].tolist() == closed["volume"].astype(int).tolist()
    assert sim.last_error() == (1, "Success")


def test_start_pos_skips_the_newest_bars():
    sim = simulator()
    rates = sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 1, 2)
    assert rates["time"].tolist() == [seconds("2024-03-05 08:00"), seconds("2024-03-05 09:00")]


def test_a_start_pos_beyond_history_fails():
    sim = simulator("2024-02-01 03:30")
    assert sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 10, 5) is None
    assert sim.last_error()[0] == sim.RES_E_FAIL


def test_count_beyond_history_returns_what_exists():
    sim = simulator("2024-02-01 03:30")
    assert len(sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 500)) == 4


def test_max_bars_caps_the_history():
    sim = simulator(max_bars=50)
    assert len(sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 500)) == 50
    assert sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 50, 1) is None


def test_over_the_weekend_position_0_is_fridays_complete_last_bar():
    sim = simulator("2024-03-09 12:00")
    rates = sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 1)
    assert rates["time"][0] == seconds("2024-03-08 21:00")
    assert rates["close"][0] == FEED.loc["2024-03-08 21:00", "close"]


def test_times_are_on_the_servers_wall_clock():
    sim = simulator(server_timezone="NY+7")
    winter = sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 1, 1)
    assert winter["time"][0] == seconds("2024-03-05 11:00")  # 09:00 UTC at GMT+2
    sim.set_time("2024-06-04 10:30")
    summer = sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 1, 1)
    assert summer["time"][0] == seconds("2024-06-04 12:00")  # 09:00 UTC at GMT+3


def test_timeframes_not_fed_are_built_on_server_clock_boundaries():
    utc = simulator("2024-03-07 12:30")
    d1 = utc.copy_rates_from_pos("XAUUSD", utc.TIMEFRAME_D1, 1, 2)
    expected = resample_bars(FEED, "D1").loc["2024-03-05":"2024-03-06"]
    assert d1["time"].tolist() == [seconds("2024-03-05"), seconds("2024-03-06")]
    assert d1["close"].tolist() == expected["close"].tolist()
    assert d1["high"].tolist() == expected["high"].tolist()
    gmt2 = simulator("2024-03-07 12:30", server_timezone="NY+7")
    d1 = gmt2.copy_rates_from_pos("XAUUSD", gmt2.TIMEFRAME_D1, 1, 1)
    # Server midnight of Mar 6 is 22:00 UTC on Mar 5: the bar closes at 21:00 UTC's close.
    assert d1["time"][0] == seconds("2024-03-06")
    assert d1["close"][0] == FEED.loc["2024-03-06 21:00", "close"]


def test_a_derived_current_bar_is_forming_too():
    sim = simulator("2024-03-05 10:30")
    h4 = sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H4, 0, 1)
    assert h4["time"][0] == seconds("2024-03-05 08:00")
    assert h4["close"][0] != FEED.loc["2024-03-05 11:00", "close"]


def test_unknown_symbol_unselected_symbol_and_bad_timeframe_fail():
    sim = simulator()
    assert sim.copy_rates_from_pos("NOPE", sim.TIMEFRAME_H1, 0, 1) is None
    assert sim.last_error()[0] == sim.RES_E_NOT_FOUND
    assert sim.copy_rates_from_pos("XAUUSD", 12345, 0, 1) is None
    assert sim.last_error()[0] == sim.RES_E_INVALID_PARAMS
    assert sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_W1, 0, 1) is None
    assert sim.last_error()[0] == sim.RES_E_UNSUPPORTED
    assert sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_M15, 0, 1) is None  # finer than feed
    assert sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 0) is None
    assert sim.last_error()[0] == sim.RES_E_INVALID_PARAMS
    assert sim.symbol_select("XAUUSD", False)
    assert sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 1) is None
    assert sim.last_error()[0] == sim.RES_E_FAIL


def test_injected_faults_fail_the_next_calls_then_clear():
    sim = simulator()
    sim.fail_next("copy_rates_from_pos", sim.RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout", times=2)
    assert sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 1) is None
    assert sim.last_error() == (-10005, "IPC timeout")
    assert sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 1) is None
    assert sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 1) is not None


def test_initialize_checks_the_login_when_accounts_are_known():
    sim = MT5Simulator(accounts={1001: ("secret", "Demo-Server")})
    assert not sim.initialize(login=1001, password="wrong", server="Demo-Server")
    assert sim.last_error() == (-6, "Terminal: Authorization failed")
    assert sim.initialize(login=1001, password="secret", server="Demo-Server")
    assert sim.version()[0] == 500
    sim.shutdown()
    assert sim.version() is None


def test_symbol_info_is_a_namedtuple_with_the_real_fields():
    info = simulator().symbol_info("XAUUSD")
    assert info._fields == SYMBOL_INFO_FIELDS and len(info._fields) == 96
    assert (info.digits, info.point, info.trade_contract_size) == (2, 0.01, 100.0)
    assert (info.trade_tick_size, info.trade_tick_value) == (0.01, 1.0)
    assert (info.volume_min, info.volume_max, info.volume_step) == (0.01, 100.0, 0.01)
    assert info.name == "XAUUSD" and info.select and info.currency_profit == "USD"
    assert info._asdict()["bid"] == info.bid > 0


def test_tick_is_the_current_price_with_the_spread():
    sim = simulator()
    tick = sim.symbol_info_tick("XAUUSD")
    current = sim.copy_rates_from_pos("XAUUSD", sim.TIMEFRAME_H1, 0, 1)
    assert tick.bid == current["close"][0]
    assert tick.ask == pytest.approx(tick.bid + current["spread"][0] * 0.01)
    assert tick.time == seconds(TUESDAY_1030)


def test_copy_rates_from_and_range_select_by_server_time():
    sim = simulator()
    rates = sim.copy_rates_from("XAUUSD", sim.TIMEFRAME_H1,
                                datetime(2024, 3, 4, 12, tzinfo=UTC), 3)
    assert rates["time"].tolist() == [seconds(f"2024-03-04 {h}:00") for h in (10, 11, 12)]
    ranged = sim.copy_rates_range("XAUUSD", sim.TIMEFRAME_H1, datetime(2024, 3, 4, 10),
                                  seconds("2024-03-04 13:00"))
    assert len(ranged) == 4


def test_the_simulator_never_imports_metatrader5():
    import sys

    assert "MetaTrader5" not in sys.modules
    assert mt5sim.MT5Simulator.__module__ == "trading.brokers.mt5sim"
