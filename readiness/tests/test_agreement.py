"""Replay/backtest agreement (``readiness.agreement``): pure, hand-built trade lists."""

from __future__ import annotations

from readiness.agreement import compare_trades

A = {"entry_time": "2024-03-04T10:00:00+00:00", "side": "buy", "net_pnl": "12.30"}
B = {"entry_time": "2024-03-05T14:00:00+00:00", "side": "sell", "net_pnl": "-4.10"}


def test_identical_trades_agree_fully():
    out = compare_trades([A, B], [B, A])
    assert (out["matched"], out["agreement"], out["mismatches"]) == (2, 1.0, [])


def test_a_cent_is_tolerated_more_is_not():
    assert compare_trades([A], [{**A, "net_pnl": "12.31"}])["agreement"] == 1.0
    out = compare_trades([A], [{**A, "net_pnl": "12.32"}])
    assert out["agreement"] == 0.0 and "net P/L replay 12.30 vs backtest 12.32" in \
        out["mismatches"][0]


def test_a_missing_or_shifted_trade_lowers_agreement_and_says_so():
    out = compare_trades([A, B], [A])
    assert (out["matched"], out["agreement"]) == (1, 0.5)
    assert "the replay made 2 trade(s), the backtest 1" in out["mismatches"]
    shifted = compare_trades([A], [{**A, "entry_time": "2024-03-04T11:00:00+00:00"}])
    assert shifted["agreement"] == 0.0 and "replay buy at 2024-03-04T10" in \
        shifted["mismatches"][0]


def test_no_trades_on_either_side_agree():
    assert compare_trades([], [])["agreement"] == 1.0


# A backtest trade on New Year's Day (a holiday in the cycle's calendar) and one that exits
# on Christmas Day: the stored bars held those days, the live cycle does not trade them.
NEW_YEAR = {"entry_time": "2021-01-01T00:00:00+00:00", "exit_time": "2021-01-01T09:00:00+00:00",
            "side": "SELL", "net_pnl": "1.28"}
OPEN_DAY = {"entry_time": "2020-12-31T06:00:00+00:00", "exit_time": "2020-12-31T12:00:00+00:00",
            "side": "SELL", "net_pnl": "-9.63"}
INTO_CHRISTMAS = {"entry_time": "2020-12-24T02:00:00+00:00",
                  "exit_time": "2020-12-25T02:00:00+00:00", "side": "SELL", "net_pnl": "2.03"}


def test_trades_on_a_closed_market_are_named_with_the_cycles_calendar():
    from trading.cycle.steps import market_open_at

    out = compare_trades([OPEN_DAY], [OPEN_DAY, NEW_YEAR], market_open=market_open_at)
    assert (out["matched"], out["replay_trades"], out["backtest_trades"]) == (1, 1, 2)
    assert out["closed_market"] == [{"path": "backtest", "side": "SELL",
                                     "entry_time": NEW_YEAR["entry_time"],
                                     "closed_at": "entry 2021-01-01T00:00:00+00:00"}]
    assert out["cause"] == out["mismatches"][0]
    assert "1 trade(s) without a twin traded while the cycle's market calendar is closed" in \
        out["cause"] and "backtest SELL trade, entry 2021-01-01T00:00" in out["cause"]
    # Same entry, different exit: the backtest closed it on a holiday bar, the replay later.
    held = {**INTO_CHRISTMAS, "exit_time": "2020-12-28T05:00:00+00:00", "net_pnl": "1.47"}
    out = compare_trades([held], [INTO_CHRISTMAS], market_open=market_open_at)
    assert [(r["path"], r["closed_at"]) for r in out["closed_market"]] == [
        ("backtest", "exit 2020-12-25T02:00:00+00:00")]


def test_disagreements_on_an_open_market_name_no_closed_market_cause():
    from trading.cycle.steps import market_open_at

    out = compare_trades([OPEN_DAY], [OPEN_DAY, {**OPEN_DAY, "entry_time":
                                                 "2020-12-31T14:00:00+00:00"}],
                         market_open=market_open_at)
    assert out["closed_market"] == [] and out["cause"] is None
    assert out["mismatches"] == ["the replay made 1 trade(s), the backtest 2"]
    assert compare_trades([A], [A])["cause"] is None  # without a calendar: not judged
