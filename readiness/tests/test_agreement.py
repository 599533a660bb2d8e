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
