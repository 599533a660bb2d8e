"""The engine's behaviour as scenario tables: a few hand-drawn bars, a comment per row, the
expected trades as (side, entry bar, exit bar, entry price, exit price, exit reason).

Unless a scenario says otherwise: 1 lot, 100 per 1.0 of price, no costs, SL/TP 1.0 away from
the entry fill. Bars are bid prices; ask = bid + spread.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from backtests.engine import TRADE_COLUMNS, BacktestConfig, fill_bar, prepare_bars, run_backtest
from backtests.tests.scenario import FLAT, MONDAY, bars, trades
from nusatrade.errors import ConfigurationError, DataError


def config(**fields: object) -> BacktestConfig:
    base = {"lots": 1.0, "contract_size": 100.0, "sl_distance": 1.0, "tp_distance": 1.0}
    return BacktestConfig(**{**base, **fields})


SCENARIOS = [
    pytest.param(
        [FLAT,                            # 0: BUY decided at the close
         (100.0, 100.5, 99.5, 100.2),     # 1: fills at the ask 100 + 0.2; SL 99.2, TP 101.2
         (100.2, 101.3, 100.0, 101.0)],   # 2: bid high 101.3 reaches the TP
        [1, 0, 0], {"spread": 0.2},
        [("BUY", 1, 2, 100.2, 101.2, "take_profit")], id="buy_fills_at_ask_exits_tp_at_bid"),
    pytest.param(
        [FLAT,                            # 0: SELL decided
         (100.0, 100.5, 99.5, 99.9),      # 1: fills at the bid 100; SL 101, TP 99 (on the ask)
         (99.9, 100.0, 98.85, 99.0),      # 2: bid low 98.85 but ask low 99.05: no TP yet
         (99.0, 99.1, 98.7, 98.9)],       # 3: ask low 98.9 reaches 99: buys back at 99
        [-1, 0, 0, 0], {"spread": 0.2},
        [("SELL", 1, 3, 100.0, 99.0, "take_profit")], id="sell_stops_trigger_on_the_ask"),
    pytest.param(
        [FLAT,                            # 0: BUY
         FLAT,                            # 1: fills at 100; SL 99
         (100.0, 100.2, 98.9, 99.5)],     # 2: low 98.9 reaches the SL
        [1, 0, 0], {},
        [("BUY", 1, 2, 100.0, 99.0, "stop_loss")], id="buy_stop_loss"),
    pytest.param(
        [FLAT,                            # 0: SELL
         FLAT,                            # 1: fills at the bid 100; SL 101 on the ask
         (100.0, 100.85, 99.9, 100.5)],   # 2: ask high 100.85 + 0.2 = 101.05 reaches it
        [-1, 0, 0], {"spread": 0.2},
        [("SELL", 1, 2, 100.0, 101.0, "stop_loss")], id="sell_stop_loss_on_the_ask"),
    pytest.param(
        [FLAT,                            # 0: BUY
         FLAT,                            # 1: fills at 100; SL 99, TP 101
         (100.0, 101.5, 98.5, 100.0)],    # 2: touches both: the worse one (SL) is assumed
        [1, 0, 0], {},
        [("BUY", 1, 2, 100.0, 99.0, "stop_loss")], id="sl_wins_when_bar_touches_both"),
    pytest.param(
        [FLAT,                            # 0: SELL
         FLAT,                            # 1: fills at 100; SL 101, TP 99
         (100.0, 101.5, 98.5, 100.0)],    # 2: touches both: SL
        [-1, 0, 0], {},
        [("SELL", 1, 2, 100.0, 101.0, "stop_loss")], id="sl_wins_for_a_sell_too"),
    pytest.param(
        [FLAT,                            # 0: BUY
         (100.0, 101.5, 99.5, 101.0)],    # 1: fills at 100 and reaches the TP in the same bar
        [1, 0], {},
        [("BUY", 1, 1, 100.0, 101.0, "take_profit")], id="stops_work_in_the_entry_bar"),
    pytest.param(
        [FLAT,                            # 0: BUY
         FLAT,                            # 1: fills at 100; SL 99
         (98.5, 99.0, 98.0, 98.8)],       # 2: opens at 98.5, below the SL: fills at the open
        [1, 0, 0], {},
        [("BUY", 1, 2, 100.0, 98.5, "stop_loss")], id="gap_through_sl_fills_at_open"),
    pytest.param(
        [FLAT,                            # 0: SELL
         FLAT,                            # 1: fills at 100; SL 101
         (101.6, 102.0, 101.4, 101.8)],   # 2: ask opens at 101.6 + 0.1, above the SL
        [-1, 0, 0], {"spread": 0.1},
        [("SELL", 1, 2, 100.0, 101.7, "stop_loss")], id="sell_gap_through_sl_fills_at_ask_open"),
    pytest.param(
        [FLAT,                            # 0: BUY
         FLAT,                            # 1: fills at 100; TP 101
         (101.5, 102.0, 101.2, 101.9)],   # 2: opens above the TP: fills at the (better) open
        [1, 0, 0], {},
        [("BUY", 1, 2, 100.0, 101.5, "take_profit")], id="gap_through_tp_fills_at_open"),
    pytest.param(
        [FLAT,                            # 0: BUY
         FLAT,                            # 1: fills at 100; SL 99, TP 101
         (101.5, 101.6, 98.5, 98.8)],     # 2: opens above the TP, then trades through the SL:
        [1, 0, 0], {},                    #    the TP filled at the open first
        [("BUY", 1, 2, 100.0, 101.5, "take_profit")], id="gap_beyond_tp_then_sl_is_a_tp"),
    pytest.param(
        [FLAT,                            # 0: SELL
         FLAT,                            # 1: fills at the bid 100; SL 101, TP 99 (ask)
         (98.5, 101.5, 98.4, 101.2)],     # 2: ask opens at 98.6, below the TP, then rises
        [-1, 0, 0], {"spread": 0.1},      #    through the SL: bought back at the ask open
        [("SELL", 1, 2, 100.0, 98.6, "take_profit")], id="sell_gap_beyond_tp_then_sl_is_a_tp"),
    pytest.param(
        [FLAT,                            # 0: BUY 1 lot; equity 500, margin 100 (1:100)
         FLAT,                            # 1: fills at 100; no SL; stop-out where equity =
         (100.0, 100.2, 95.0, 95.3)],     #    50% x 100: 500 + (p - 100) x 100 = 50 -> 95.5
        [1, 0, 0], {"sl_distance": None, "initial_equity": 500.0},
        [("BUY", 1, 2, 100.0, 95.5, "stop_out")], id="stop_out_at_50_percent_margin_level"),
    pytest.param(
        [FLAT,                            # 0: BUY; SL 99 is tighter than the stop-out 95.5
         FLAT,                            # 1: fills at 100
         (100.0, 100.2, 95.0, 95.3)],     # 2: the SL fills first
        [1, 0, 0], {"initial_equity": 500.0},
        [("BUY", 1, 2, 100.0, 99.0, "stop_loss")], id="sl_tighter_than_stop_out"),
    pytest.param(
        [FLAT,                            # 0: SELL 1 lot, equity 500: stop-out at the ask
         FLAT,                            # 1: fills at 100; 500 - (a - 100) x 100 = 50 -> 104.5
         (104.0, 106.0, 103.9, 105.0)],   # 2: ask high 106.1 reaches it
        [-1, 0, 0], {"sl_distance": None, "initial_equity": 500.0, "spread": 0.1},
        [("SELL", 1, 2, 100.0, 104.5, "stop_out")], id="sell_stop_out_on_the_ask"),
    pytest.param(
        [FLAT,                            # 0: BUY; stop-out at 95.5
         FLAT,                            # 1: fills at 100
         (93.0, 93.5, 92.0, 93.2)],       # 2: gaps below it: closed at the open, equity < 0
        [1, 0, 0], {"sl_distance": None, "initial_equity": 500.0},
        [("BUY", 1, 2, 100.0, 93.0, "stop_out")], id="gap_through_stop_out_fills_at_open"),
    pytest.param(
        [FLAT, FLAT, FLAT],               # margin 100 > balance 50: no money, not traded
        [1, 0, 0], {"initial_equity": 50.0},
        [], id="entry_without_free_margin_is_skipped"),
    pytest.param(
        [FLAT, FLAT, (100.0, 100.2, 95.0, 95.3)],  # margin model off: no stop-out
        [1, 0, 0], {"sl_distance": None, "initial_equity": 500.0, "leverage": None},
        [("BUY", 1, 2, 100.0, 95.3, "end_of_data")], id="no_margin_model_when_leverage_none"),
    pytest.param(
        [FLAT,                            # 0: BUY
         FLAT,                            # 1: fills at 100 (bar 1 of 2)
         FLAT,                            # 2: bar 2 of 2: at the close, time is up
         (100.3, 100.5, 99.5, 100.0)],    # 3: closes at the open 100.3
        [1, 0, 0, 0], {"max_bars_held": 2},
        [("BUY", 1, 3, 100.0, 100.3, "time")], id="time_exit_after_n_bars_at_next_open"),
    pytest.param(
        [FLAT,                            # 0: BUY
         FLAT,                            # 1: fills at 100
         FLAT,                            # 2: SELL at the close: exit and reverse
         (100.2, 100.5, 99.5, 100.1),     # 3: BUY closes and SELL opens at the open 100.2
         (100.1, 100.4, 99.6, 100.3)],    # 4: end of data: SELL buys back at the close
        [1, 0, -1, 0, 0], {},
        [("BUY", 1, 3, 100.0, 100.2, "opposite_signal"),
         ("SELL", 3, 4, 100.2, 100.3, "end_of_data")], id="opposite_signal_closes_and_reverses"),
    pytest.param(
        [FLAT, FLAT, FLAT,                # 0: BUY; 1: fills; 2: SELL is ignored
         (100.2, 100.5, 99.5, 100.1)],    # 3: end of data at the bid close
        [1, 0, -1, 0], {"exit_on_opposite": False},
        [("BUY", 1, 3, 100.0, 100.1, "end_of_data")], id="opposite_ignored_when_configured"),
    pytest.param(
        [FLAT, FLAT, FLAT, FLAT],         # BUY, then BUY again while long: ignored
        [1, 1, 1, 0], {},
        [("BUY", 1, 3, 100.0, 100.0, "end_of_data")], id="same_direction_signal_is_ignored"),
    pytest.param(
        [FLAT, FLAT,                      # 0: SELL; 1: fills at the bid 100
         (100.0, 100.5, 99.5, 100.4)],    # 2: end of data: buys back at the ask 100.4 + 0.3
        [-1, 0, 0], {"spread": 0.3},
        [("SELL", 1, 2, 100.0, 100.7, "end_of_data")], id="end_of_data_sell_pays_the_ask"),
    pytest.param(
        [FLAT, FLAT, FLAT],               # a BUY at the last close has no next open
        [0, 0, 1], {},
        [], id="signal_on_the_last_bar_is_not_traded"),
    pytest.param(
        [FLAT,                            # 0: BUY
         FLAT,                            # 1: fills at 100
         (100.0, 100.2, 98.8, 99.2),      # 2: SL at 99; flat at the close, SELL decided
         (99.2, 99.5, 99.0, 99.3)],       # 3: SELL fills at 99.2 and ends at the close
        [1, 0, -1, 0], {},
        [("BUY", 1, 2, 100.0, 99.0, "stop_loss"),
         ("SELL", 3, 3, 99.2, 99.3, "end_of_data")], id="new_entry_after_a_stop_exit"),
    pytest.param(
        [FLAT, FLAT,                      # 0: BUY; 1: fills at 100 + 0.1 spread + 0.05 slip
         (100.0, 101.3, 99.5, 100.0)],    # 2: TP at 100.15 + 1 = 101.15; sold at 101.15 - 0.05
        [1, 0, 0], {"spread": 0.1, "slippage": 0.05},
        [("BUY", 1, 2, 100.15, 101.1, "take_profit")], id="slippage_on_every_fill"),
    pytest.param(
        [FLAT, FLAT, FLAT],               # no stops at all: only the end of data exits
        [1, 0, 0], {"sl_distance": None, "tp_distance": None},
        [("BUY", 1, 2, 100.0, 100.0, "end_of_data")], id="no_stops"),
]


@pytest.mark.parametrize(("rows", "signals", "fields", "expected"), SCENARIOS)
def test_scenario(rows: list[tuple[float, ...]], signals: list[int], fields: dict[str, object],
                  expected: list[tuple]) -> None:
    result = run_backtest(bars(rows), np.array(signals), config(**fields))
    assert trades(result) == expected


def test_the_one_shift_is_next_bar() -> None:
    assert fill_bar(0) == 1 and fill_bar(41) == 42


def test_money_of_a_trade_with_every_cost() -> None:
    """0.5 lot BUY held over one UTC midnight with spread, slippage, commission and swap."""
    rows = [FLAT,                         # 0 (22:00): BUY
            (100.0, 100.3, 99.8, 100.2),  # 1 (23:00): ask 100 + 0.2 + slip 0.05 = 100.25
            (100.2, 100.6, 100.1, 100.5),  # 2 (00:00 Tuesday): one night held
            (100.5, 100.8, 100.4, 100.7)]  # 3 (01:00): end of data, bid 100.7 - 0.05
    cfg = BacktestConfig(lots=0.5, contract_size=100.0, spread=0.2, slippage=0.05,
                         commission_per_lot=7.0, swap_long_per_lot=-4.0)
    result = run_backtest(bars(rows, MONDAY + pd.Timedelta(hours=22)), np.array([1, 0, 0, 0]),
                          cfg)
    row = result.trades.iloc[0]
    assert (row.entry_price, row.exit_price, row.nights) == (pytest.approx(100.25),
                                                             pytest.approx(100.65), 1)
    # at the bid, without costs: (100.7 - 100.0) x 100 x 0.5
    assert row.gross_pnl == 35.00
    assert row.spread_cost == 10.00    # 0.2 x 100 x 0.5
    assert row.slippage_cost == 5.00   # 2 fills x 0.05 x 100 x 0.5
    assert row.commission == 3.50      # 7 per lot round trip x 0.5
    assert row.swap == -2.00           # -4 per lot per night x 0.5 x 1 night
    assert row.costs == 20.50          # 10 + 5 + 3.5 + 2
    assert row.net_pnl == 14.50        # (100.65 - 100.25) x 50 - 3.5 - 2
    assert result.metrics["net_profit"] == 14.50
    assert result.metrics["total_costs"] == 20.50
    assert result.equity.iloc[-1] == pytest.approx(10_014.50)


def test_sell_swap_credit_and_costs() -> None:
    rows = [FLAT, FLAT, FLAT, (100.0, 100.2, 99.6, 99.8)]
    cfg = BacktestConfig(lots=1.0, contract_size=100.0, spread=0.1, commission_per_lot=5.0,
                         swap_short_per_lot=1.5, sl_distance=None, tp_distance=None)
    start = MONDAY + pd.Timedelta(hours=22)  # entry Monday 23:00, exit Tuesday 01:00
    result = run_backtest(bars(rows, start), np.array([-1, 0, 0, 0]), cfg)
    row = result.trades.iloc[0]
    # sold at the bid 100.0, bought back at the ask 99.8 + 0.1 = 99.9: +10.00
    assert (row.nights, row.swap, row.commission, row.spread_cost) == (1, 1.50, 5.00, 10.00)
    assert row.net_pnl == pytest.approx(10.00 - 5.00 + 1.50)
    assert row.costs == pytest.approx(10.00 + 5.00 - 1.50)


def test_atr_stops_use_the_signal_bar_atr_from_the_entry_fill() -> None:
    # Every bar's true range is 2.0, so TA-Lib's ATR(14) is 2.0 from bar 14 on (NaN before).
    rows = [(100.0, 101.0, 99.0, 100.0)] * 17 + [(100.0, 100.5, 96.9, 97.5)]
    signals = np.zeros(18, dtype=int)
    signals[13] = 1   # ATR not known yet at bar 13: skipped
    signals[14] = -1  # ATR 2.0: SELL at bar 15's open 100, SL 100 + 1.5 x 2 = 103, TP 96
    signals[15] = 1   # reverses at bar 16's open: BUY at 100, SL 97, TP 104
    cfg = config(sl_distance=None, tp_distance=None, sl_atr=1.5, tp_atr=2.0, atr_period=14)
    prepared = prepare_bars(bars(rows))
    assert np.isnan(prepared.atr(14)[13]) and prepared.atr(14)[14] == pytest.approx(2.0)
    result = run_backtest(prepared, signals, cfg)
    assert trades(result) == [("SELL", 15, 16, 100.0, 100.0, "opposite_signal"),
                              ("BUY", 16, 17, 100.0, 97.0, "stop_loss")]
    assert result.trades.sl.tolist() == [103.0, 97.0]
    assert result.trades.tp.tolist() == [96.0, 104.0]
    assert result.metrics["skipped_no_atr"] == 1


def test_stops_are_rounded_to_the_quote_grid() -> None:
    rows = [FLAT, (100.0, 100.2, 99.0, 100.0)]
    result = run_backtest(bars(rows), np.array([1, 0]),
                          config(sl_distance=0.987, tp_distance=1.2345, digits=2))
    assert result.trades.sl.tolist() == [99.01] and result.trades.tp.tolist() == [101.23]


def test_spread_from_the_bars_spread_column() -> None:
    frame = bars([FLAT, FLAT, FLAT])
    frame["spread"] = [10.0, 25.0, 40.0]  # points of 0.01
    result = run_backtest(frame, np.array([1, 0, -1]),
                          config(spread_from_bars=True, sl_distance=None, tp_distance=None))
    assert trades(result) == [("BUY", 1, 2, 100.25, 100.0, "end_of_data")]
    with pytest.raises(DataError, match="no spread column"):
        run_backtest(bars([FLAT, FLAT]), np.array([1, 0]), config(spread_from_bars=True))


def test_risk_per_trade_sizing_follows_the_equity() -> None:
    # 1 % of 10,000 over a 1.0 stop at 100 per lot = 1.00 lot; after +100: 1 % of 10,100.
    rows = [FLAT, FLAT, (100.0, 101.5, 99.5, 100.0), FLAT, FLAT, FLAT]
    result = run_backtest(bars(rows), np.array([1, 0, 0, 1, 0, 0]),
                          config(risk_per_trade_pct=1.0))
    assert result.trades.lots.tolist() == [1.0, 1.01]
    assert result.trades.net_pnl.tolist()[0] == 100.0


def test_too_small_a_size_skips_the_trade() -> None:
    result = run_backtest(bars([FLAT, FLAT, FLAT]), np.array([1, 0, 0]),
                          config(risk_per_trade_pct=0.001))
    assert result.trades.empty and result.metrics["skipped_volume"] == 1


def test_min_confidence_turns_weak_signals_into_hold() -> None:
    rows = [FLAT, FLAT, FLAT, FLAT]
    cfg = config(min_confidence=0.6, sl_distance=None, tp_distance=None)
    result = run_backtest(bars(rows), np.array([1, 0, -1, 0]), cfg,
                          confidence=np.array([0.55, 0.9, 0.65, 0.9]))
    assert trades(result) == [("SELL", 3, 3, 100.0, 100.0, "end_of_data")]
    assert result.trades.confidence.tolist() == [0.65]


def test_result_shape() -> None:
    index = bars([FLAT] * 5).index
    result = run_backtest(bars([FLAT] * 5), pd.Series([1, 0, 0, 0, 0], index=index), config())
    assert list(result.trades.columns) == list(TRADE_COLUMNS)
    assert result.equity.index.equals(index) and result.drawdown_pct.index.equals(index)
    assert result.benchmark.iloc[0] == 10_000.0
    for key in ("trades", "win_rate", "profit_factor", "net_profit", "max_drawdown_pct",
                "sharpe", "sortino", "calmar", "cagr_pct", "expectancy", "exposure_pct",
                "trades_per_month", "buy_hold_return_pct", "longest_losing_streak"):
        assert key in result.metrics
    assert result.trades.entry_time.iloc[0] == index[1]
    assert str(result.trades.entry_time.dt.tz) == "UTC"


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda f: f.iloc[::-1], "strictly increasing"),
    (lambda f: f.tz_convert("Asia/Jakarta"), "must be in UTC"),
    (lambda f: f.tz_localize(None), "timezone-aware"),
    (lambda f: f.drop(columns="low"), "lack columns"),
    (lambda f: f.assign(close=[100.0, np.nan, 100.0]), "finite and positive"),
    (lambda f: f.assign(high=[100.0, 99.0, 100.0]), "do not contain"),
])
def test_bad_bars_are_refused(mutate: Callable[[pd.DataFrame], pd.DataFrame],
                              message: str) -> None:
    with pytest.raises(DataError, match=message):
        run_backtest(mutate(bars([FLAT] * 3)), np.zeros(3), config())


@pytest.mark.parametrize(("signals", "message"), [
    (np.array([0, 2, 0]), "must be -1, 0 or \\+1"),
    (np.array([0, np.nan, 0]), "must be -1, 0 or \\+1"),
    (np.array([0, 1]), "shape"),
    (pd.Series([0, 1, 0]), "index differs"),
])
def test_bad_signals_are_refused(signals: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        run_backtest(bars([FLAT] * 3), signals, config())


@pytest.mark.parametrize("fields", [
    {"sl_atr": 1.0},  # together with sl_distance
    {"spread": -0.1}, {"lots": 0.0}, {"max_bars_held": 0}, {"atr_period": 0},
    {"sl_distance": None, "risk_per_trade_pct": 1.0}, {"min_confidence": 1.5},
    {"commission_per_lot": float("nan")}, {"volume_min": 5.0, "volume_max": 1.0},
])
def test_bad_configs_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        config(**fields)


def test_for_instrument_converts_pips() -> None:
    from decimal import Decimal

    from trading.pnl import InstrumentSpec

    spec = InstrumentSpec("EURUSD", 5, Decimal("0.00001"), Decimal("100000"),
                          Decimal("0.00001"), Decimal("1"), Decimal("0.0001"))
    cfg = BacktestConfig.for_instrument(spec, spread_pips=2, slippage_pips=1.5, lots=0.1)
    assert (cfg.spread, cfg.slippage, cfg.contract_size, cfg.digits, cfg.symbol) == (
        pytest.approx(0.0002), pytest.approx(0.00015), 100000.0, 5, "EURUSD")
    assert BacktestConfig.for_instrument(spec, spread_points=12).spread == pytest.approx(0.00012)
    with pytest.raises(ConfigurationError, match="not both"):
        BacktestConfig.for_instrument(spec, spread_pips=1, spread_points=10)


# --- SL and TP in the same bar, resolved by finer bars ---------------------------------------

BOTH = [FLAT,                           # 0: BUY
        FLAT,                           # 1: fills at 100; SL 99, TP 101
        (100.0, 101.5, 98.5, 100.0)]    # 2: touches both


def quarter_hours(hour: int, rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    """Four M15 bars inside H1 bar ``hour`` of the scenario."""
    return bars(rows, MONDAY + pd.Timedelta(hours=hour), freq="15min")


@pytest.mark.parametrize(("m15", "expected", "resolved"), [
    pytest.param([(100.0, 100.4, 99.8, 100.3),   # :00 quiet
                  (100.3, 101.5, 100.2, 101.2),  # :15 reaches the TP first
                  (101.2, 101.3, 98.5, 98.9),    # :30 then falls through the SL
                  (98.9, 100.0, 98.8, 100.0)],
                 ("BUY", 1, 2, 100.0, 101.0, "take_profit"), 1, id="tp_first"),
    pytest.param([(100.0, 100.4, 98.5, 99.2),    # :00 SL first
                  (99.2, 101.5, 99.1, 101.2), (101.2, 101.3, 100.5, 100.9),
                  (100.9, 101.0, 99.8, 100.0)],
                 ("BUY", 1, 2, 100.0, 99.0, "stop_loss"), 1, id="sl_first"),
    pytest.param([(100.0, 101.5, 98.5, 100.0),   # :00 both inside one M15 bar: still SL
                  FLAT, FLAT, FLAT],
                 ("BUY", 1, 2, 100.0, 99.0, "stop_loss"), 0, id="both_in_one_finer_bar"),
    pytest.param([(100.0, 100.4, 99.8, 100.3),
                  (101.6, 101.8, 101.4, 101.5),  # :15 gaps over the TP: fills at 101.6
                  (101.5, 101.6, 98.5, 99.0), (99.0, 100.0, 98.9, 100.0)],
                 ("BUY", 1, 2, 100.0, 101.6, "take_profit"), 1, id="finer_gap_through_tp"),
])
def test_finer_bars_decide_which_level_came_first(m15: list[tuple[float, ...]],
                                                  expected: tuple, resolved: int) -> None:
    result = run_backtest(bars(BOTH), np.array([1, 0, 0]), config(),
                          finer_bars=quarter_hours(2, m15))
    assert trades(result) == [expected]
    assert result.metrics["sl_tp_same_bar"] == 1
    assert result.metrics["sl_tp_resolved_by_finer_bars"] == resolved


def test_without_finer_bars_for_that_bar_the_sl_is_assumed() -> None:
    other_hour = quarter_hours(0, [FLAT] * 4)  # finer data, but not for bar 2
    result = run_backtest(bars(BOTH), np.array([1, 0, 0]), config(), finer_bars=other_hour)
    assert trades(result) == [("BUY", 1, 2, 100.0, 99.0, "stop_loss")]
    assert result.metrics["sl_tp_resolved_by_finer_bars"] == 0


def test_sell_resolution_uses_the_ask() -> None:
    rows = [FLAT, FLAT, (100.0, 101.5, 98.5, 100.0)]  # SELL at 100: SL 101, TP 99 on the ask
    m15 = [(100.0, 100.2, 98.85, 99.0),   # ask low 98.85 + 0.2 = 99.05: not the TP yet
           (99.0, 100.85, 98.9, 100.5),   # ask high 101.05: the SL comes first
           (100.5, 101.5, 98.5, 99.0), (99.0, 99.5, 98.9, 99.2)]
    result = run_backtest(bars(rows), np.array([-1, 0, 0]), config(spread=0.2),
                          finer_bars=quarter_hours(2, m15))
    assert trades(result) == [("SELL", 1, 2, 100.0, 101.0, "stop_loss")]
    assert result.metrics["sl_tp_resolved_by_finer_bars"] == 1


def test_finer_bars_must_be_finer() -> None:
    with pytest.raises(DataError, match="must be shorter"):
        run_backtest(bars(BOTH), np.array([1, 0, 0]), config(), finer_bars=bars(BOTH))


def test_margin_skips_and_stop_outs_are_counted() -> None:
    skipped = run_backtest(bars([FLAT, FLAT, FLAT]), np.array([1, 0, 0]),
                           config(initial_equity=50.0))
    assert skipped.metrics["skipped_margin"] == 1 and skipped.metrics["trades"] == 0
    stopped = run_backtest(bars([FLAT, FLAT, (93.0, 93.5, 92.0, 93.2), FLAT]),
                           np.array([1, 0, 0, 0]), config(sl_distance=None, initial_equity=500.0))
    assert stopped.metrics["stop_outs"] == 1
    assert stopped.trades.balance.iloc[-1] == pytest.approx(-200.0)  # a gap: below zero
    assert all(math.isfinite(stopped.metrics[key]) for key in ("sharpe", "return_pct",
                                                                "max_drawdown_pct"))


def test_no_entry_once_the_account_is_wiped_out() -> None:
    rows = [FLAT, FLAT, (93.0, 93.5, 92.0, 93.2), FLAT, FLAT, FLAT]
    result = run_backtest(bars(rows), np.array([1, 0, 0, 1, 0, 0]),
                          config(sl_distance=None, initial_equity=500.0))
    assert result.metrics["trades"] == 1 and result.metrics["skipped_margin"] == 1
