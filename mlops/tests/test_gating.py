"""The HOLD gate, trade statistics after costs, and threshold tuning."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.gating import THRESHOLD_GRID, choose_threshold, gate, threshold_table, trade_stats


def test_gate_trades_only_when_the_chosen_side_reaches_the_threshold() -> None:
    p_up = np.array([0.70, 0.60, 0.59, 0.50, 0.41, 0.40, 0.30])
    assert gate(p_up, 0.60).tolist() == [1, 1, 0, 0, 0, -1, -1]


def test_gate_at_half_treats_an_exact_tie_as_hold() -> None:
    assert gate(np.array([0.5, 0.51, 0.49]), 0.5).tolist() == [0, 1, -1]


def test_gate_refuses_thresholds_below_half() -> None:
    with pytest.raises(ValueError, match=r"between 0\.5 and 1\.0"):
        gate(np.array([0.6]), 0.4)


def test_trade_stats_cost_every_trade_and_ignore_holds() -> None:
    decisions = np.array([1, -1, 0, 1])
    pnl_long = np.array([2.0, 1.0, 5.0, -1.0])
    pnl_short = np.array([-2.0, -1.0, -5.0, 1.0])
    stats = trade_stats(decisions, pnl_long, pnl_short, cost=0.5)
    # trades: +2, -1 (short of a +1 move), -1 => gross mean 0, net -0.5
    assert stats.n_trades == 3 and stats.coverage == 0.75
    assert stats.expectancy_gross == pytest.approx(0.0)
    assert stats.expectancy == pytest.approx(-0.5)
    assert stats.total == pytest.approx(-1.5)
    assert stats.win_rate == pytest.approx(1 / 3)


def test_choose_threshold_maximises_net_expectancy_with_enough_trades() -> None:
    # Confident rows (p=0.8) are right and win 3; lukewarm ones (0.55) lose 1.
    p_up = np.array([0.8] * 40 + [0.55] * 60)
    pnl_long = np.array([3.0] * 40 + [-1.0] * 60)
    choice = choose_threshold(p_up, pnl_long, -pnl_long, cost=0.2, min_trades=30)
    # Any threshold in (0.55, 0.75] keeps only the confident rows; ties go to the lowest.
    assert choice.threshold == 0.56
    assert choice.row.n_trades == 40
    assert choice.row.expectancy == pytest.approx(2.8)
    assert choice.profitable


def test_choose_threshold_respects_the_minimum_number_of_trades() -> None:
    p_up = np.array([0.8] * 10 + [0.55] * 90)
    pnl_long = np.array([3.0] * 10 + [0.1] * 90)
    choice = choose_threshold(p_up, pnl_long, -pnl_long, cost=0.0, min_trades=50)
    assert choice.row.n_trades == 100  # only thresholds <= 0.55 give 50 trades


def test_choose_threshold_fails_loudly_when_no_threshold_gives_enough_trades() -> None:
    with pytest.raises(ValueError, match="no threshold gives 500 trades"):
        choose_threshold(np.full(100, 0.9), np.ones(100), -np.ones(100), 0.0, min_trades=500)


def test_threshold_table_covers_the_grid_from_050_to_075() -> None:
    table = threshold_table(np.full(10, 0.6), np.ones(10), -np.ones(10), 0.0)
    assert [r.threshold for r in table] == list(THRESHOLD_GRID)
    assert THRESHOLD_GRID[0] == 0.5 and THRESHOLD_GRID[-1] == 0.75 and len(THRESHOLD_GRID) == 26
