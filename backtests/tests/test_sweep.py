"""backtests.sweep: one row per grid combination, signals derived per threshold."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.engine import BacktestConfig, run_backtest
from backtests.sweep import SWEEP_METRICS, run_sweep, signals_from_proba
from backtests.tests.test_equivalence_backtesting_py import synthetic_market
from nusatrade.errors import ConfigurationError


def test_signals_from_proba() -> None:
    proba = np.array([0.5, 0.55, 0.62, 0.7, 0.45, 0.38, 0.3, 1.0, 0.0])
    sig, conf = signals_from_proba(proba, 0.6)
    assert sig.tolist() == [0, 0, 1, 1, 0, -1, -1, 1, -1]
    assert conf.tolist() == pytest.approx([0.5, 0.55, 0.62, 0.7, 0.55, 0.62, 0.7, 1.0, 1.0])
    sig, _ = signals_from_proba(proba, 0.5)
    assert sig.tolist() == [0, 1, 1, 1, -1, -1, -1, 1, -1]  # exactly 0.5 is no view
    with pytest.raises(ConfigurationError):
        signals_from_proba(proba, 0.4)


def test_sweep_rows_match_single_runs() -> None:
    frame = synthetic_market(4, 2_000)
    proba = np.random.default_rng(9).random(len(frame))
    grid = {"spread": [0.2, 0.5], "slippage": [0.1], "threshold": [0.6, 0.7]}
    base = BacktestConfig(sl_atr=1.5, tp_atr=3.0)
    table = run_sweep(frame, proba, grid, base)
    assert list(table.columns) == ["spread", "slippage", "threshold", *SWEEP_METRICS]
    assert len(table) == 4
    row = table[(table.spread == 0.5) & (table.threshold == 0.7)].iloc[0]
    sig, conf = signals_from_proba(proba, 0.7)
    single = run_backtest(frame, sig, BacktestConfig(sl_atr=1.5, tp_atr=3.0, spread=0.5,
                                                     slippage=0.1), confidence=conf)
    assert row.trades == single.metrics["trades"]
    assert row.net_profit == single.metrics["net_profit"]
    # higher threshold: fewer signals; wider spread: less profit
    by = table.set_index(["spread", "threshold"])
    assert by.loc[(0.2, 0.7), "trades"] < by.loc[(0.2, 0.6), "trades"]


def test_sweep_with_a_signal_function_or_fixed_signals() -> None:
    frame = synthetic_market(4, 500)
    calls = []

    def make(threshold: float | None) -> np.ndarray:
        calls.append(threshold)
        return np.where(np.arange(len(frame)) % 10 == 0, 1, 0)

    table = run_sweep(frame, make, {"threshold": [0.6, 0.7], "max_bars_held": [3, 6]})
    assert len(table) == 4 and calls == [0.6, 0.7]  # one call per threshold
    fixed = run_sweep(frame, make(None), {"spread": [0.0, 1.0]})
    assert fixed.net_profit.iloc[1] < fixed.net_profit.iloc[0]


def test_sweep_rejects_unknown_parameters() -> None:
    with pytest.raises(ConfigurationError, match="unknown sweep parameters"):
        run_sweep(synthetic_market(1, 50), np.zeros(50), {"sprd": [1]})
    with pytest.raises(ConfigurationError, match="without values"):
        run_sweep(synthetic_market(1, 50), np.zeros(50), {"spread": []})
