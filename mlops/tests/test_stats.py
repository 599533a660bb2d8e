"""Known-answer tests of the pure statistics (mlops/stats.py): intervals around zero on noise,
intervals that exclude zero on a planted edge, the Deflated Sharpe and PBO on both."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlops import stats


def noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, n)


def planted(n: int, seed: int, p_win: float = 0.55) -> np.ndarray:
    """+1 with probability ``p_win``, else -1: a 55% signal with unit payoffs."""
    return np.where(np.random.default_rng(seed).random(n) < p_win, 1.0, -1.0)


def test_on_noise_the_intervals_hold_zero_at_their_confidence() -> None:
    # A 95% interval must contain the true value (no edge) in about 95% of samples.
    held = {name: 0 for name in stats.TRADE_STATISTICS}
    for seed in range(40):
        ci = stats.trade_intervals(np.where(noise(3000, seed) > 0, 1.0, -1.0), seed=seed)
        truth = {"win_rate": 0.5, "profit_factor": 1.0, "expectancy": 0.0, "sharpe": 0.0}
        for name, value in truth.items():
            held[name] += ci[name]["low"] <= value <= ci[name]["high"]
    assert all(count >= 34 for count in held.values()), held


def test_a_planted_55_percent_signal_has_an_interval_excluding_zero() -> None:
    ci = stats.trade_intervals(planted(5000, 1))
    assert ci["expectancy"]["low"] > 0
    assert ci["win_rate"]["low"] > 0.5
    assert ci["profit_factor"]["low"] > 1.0
    assert stats.lower_bound(planted(5000, 1)) > 0
    assert stats.lower_bound(planted(5000, 1, p_win=0.5)) < 0


def test_intervals_match_a_direct_resampling() -> None:
    values = noise(400, 3)
    fast = stats.trade_intervals(values, resamples=2000)["expectancy"]
    slow = stats.block_bootstrap(values, stats.mean, resamples=2000)
    assert fast["estimate"] == pytest.approx(values.mean())
    assert fast["low"] == pytest.approx(slow.low, abs=0.03)
    assert fast["high"] == pytest.approx(slow.high, abs=0.03)


def test_blocks_widen_the_interval_of_dependent_observations() -> None:
    # Each value repeated 24 times (like overlapping 24-bar labels): the iid bootstrap would
    # believe there are 24x more independent observations than there are.
    values = np.repeat(noise(200, 4), 24)
    iid = stats.block_bootstrap(values, stats.mean, block=1)
    blocked = stats.trade_intervals(values, horizon=24)["expectancy"]
    assert (blocked["high"] - blocked["low"]) > 2.5 * (iid.high - iid.low)


def test_too_few_values_have_no_interval() -> None:
    ci = stats.trade_intervals(np.array([1.5]))
    assert ci["expectancy"]["estimate"] == 1.5 and ci["expectancy"]["low"] is None
    assert stats.trade_intervals(np.array([]))["win_rate"]["estimate"] is None


def test_wilson_interval_known_values() -> None:
    ci = stats.wilson_interval(55, 100)
    assert ci["low"] == pytest.approx(0.4524, abs=1e-4)
    assert ci["high"] == pytest.approx(0.6439, abs=1e-4)
    assert stats.wilson_interval(0, 0)["estimate"] is None


def test_constant_baselines() -> None:
    base = stats.constant_baselines(np.array([1, 1, 1, -1]))
    assert base["accuracy"] == 0.75 and base["roc_auc"] == 0.5
    assert base["brier"] == pytest.approx(0.1875)
    assert base["log_loss"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))


@pytest.mark.parametrize(("positions", "horizon", "expected"), [
    (np.arange(100), 1, 100.0),           # next-bar labels never overlap
    (np.arange(0, 1000, 50), 24, 20.0),   # far apart: each counts one
    (np.zeros(10, dtype=int), 24, 1.0),   # ten labels over the same bars count one
])
def test_effective_sample_size(positions: np.ndarray, horizon: int, expected: float) -> None:
    assert stats.effective_sample_size(positions, horizon) == pytest.approx(expected)


def test_effective_sample_size_of_consecutive_overlapping_labels() -> None:
    ess = stats.effective_sample_size(np.arange(2400), 24)
    assert 100 < ess < 2400 / 24 * 1.5


def test_weighted_mean_weights_by_fold_size() -> None:
    assert stats.weighted_mean([0.6, 0.5, None], [100, 900, 50]) == pytest.approx(0.51)


def test_deflated_sharpe_on_the_best_of_many_noise_strategies_is_not_significant() -> None:
    returns = np.random.default_rng(7).normal(0.0, 0.01, (1500, 40))
    sharpes = stats.sharpe(returns.T)
    best = returns[:, int(np.argmax(sharpes))]
    naive = stats.deflated_sharpe(best, trials=1)
    dsr = stats.deflated_sharpe(best, trials=40, trial_sharpes=sharpes)
    assert dsr.benchmark > 0
    assert dsr.probability < naive.probability  # the trials deflate it
    assert not dsr.significant


def test_deflated_sharpe_of_a_real_edge_is_significant() -> None:
    rng = np.random.default_rng(8)
    trials = rng.normal(0.0, 0.01, (1500, 40))
    edge = rng.normal(0.002, 0.01, 1500)
    dsr = stats.deflated_sharpe(edge, trials=40, trial_sharpes=stats.sharpe(trials.T))
    assert dsr.significant and dsr.probability > 0.99


def test_expected_max_sharpe_grows_with_trials() -> None:
    assert stats.expected_max_sharpe(1, 1.0) == 0.0
    assert 0 < stats.expected_max_sharpe(10, 1.0) < stats.expected_max_sharpe(100, 1.0)


def test_pbo_of_noise_is_high_and_of_a_dominant_strategy_is_low() -> None:
    rng = np.random.default_rng(9)
    returns = rng.normal(0.0, 0.01, (2000, 20))
    assert stats.pbo_cscv(returns)["pbo"] > 0.3
    returns[:, 3] += 0.003
    result = stats.pbo_cscv(returns)
    assert result["pbo"] < 0.05 and result["splits"] == 12870


def test_pbo_needs_two_configurations() -> None:
    assert stats.pbo_cscv(np.zeros((100, 1)))["pbo"] is None
